//! The Engine.IO session on a WebSocket connection at `/socket.io/`: the open packet, the
//! server-driven heartbeat, reading packets, and the task that runs the namespaces' handlers.
//!
//! The connection's reader (this `WebSocketHandler`'s `on_message`) decodes every frame and
//! answers what needs no handler itself — pongs, and acknowledgements the server awaits — so a
//! handler that awaits `emit_with_ack` never waits on the loop it runs in. Connects, events and
//! disconnects go in order to one task per connection, which runs the handlers one at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};

use super::namespace::NamespaceEvents;
use super::packet::{self, EnginePacket, Kind, Packet, PacketError, Partial};
use super::payload::Payload;
use super::reason::DisconnectReason;
use super::session::Session;
use super::work::Work;
use super::worker::HandlerTask;
use crate::config::SocketIoSettings;
use crate::ws::handshake::{Handshake, Rejection};
use crate::{CloseInfo, CloseInitiator, Connection, Message, Request, WebSocketHandler};

/// Events read but not yet handled, per connection. Past it the reader waits (TCP
/// backpressure); an answer the handlers await is still read, since the reader only waits here
/// once this many events queue up, and each awaited answer has its timeout.
const QUEUED_EVENTS: usize = 256;

/// The key of a connection's Engine.IO session in its context.
const SESSION_KEY: &str = "\u{1}socket.io";

/// Socket.IO on one WebSocket server: its namespaces and settings.
pub(crate) struct Engine {
    namespaces: HashMap<String, Arc<dyn NamespaceEvents>>,
    settings: SocketIoSettings,
}

impl Engine {
    pub(crate) fn new(
        namespaces: HashMap<String, Arc<dyn NamespaceEvents>>,
        settings: SocketIoSettings,
    ) -> Self {
        Self {
            namespaces,
            settings,
        }
    }

    fn fail(&self, conn: &Connection, session: &Session, error: &PacketError) {
        tracing::debug!(fd = %conn.fd(), %error, "socket.io session closed");
        session
            .reason
            .lock()
            .get_or_insert(DisconnectReason::ParseError);
        let _ = conn
            .shared
            .close(crate::ws::message::close_frame(1002, "parse error"));
    }

    /// Reads one Socket.IO packet; `Err` closes the session.
    fn packet(
        &self,
        session: &Session,
        packet: Packet,
        attachments: Vec<bytes::Bytes>,
    ) -> Result<Option<Work>, PacketError> {
        let Packet {
            kind,
            namespace,
            ack,
            data,
            ..
        } = packet;
        let args = match data {
            Value::Array(args) => args,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        Ok(match kind {
            Kind::Connect => Some(Work::Connect {
                namespace,
                auth: Payload::new(args),
            }),
            Kind::Disconnect => Some(Work::Leave {
                namespace,
                reason: DisconnectReason::ClientNamespaceDisconnect,
            }),
            Kind::Event | Kind::BinaryEvent => Some(Work::Event {
                namespace,
                ack,
                args,
                attachments,
                permit: None,
            }),
            Kind::Ack | Kind::BinaryAck => {
                let socket = session.sockets.lock().get(&namespace).cloned();
                if let (Some(socket), Some(id)) = (socket, ack) {
                    socket.resolve_ack(id, Payload::from_parts(args, attachments));
                }
                None
            }
            Kind::ConnectError => {
                return Err(PacketError::Malformed("CONNECT_ERROR from a client"));
            }
        })
    }
}

impl WebSocketHandler for Engine {
    async fn on_handshake(
        &self,
        req: &Request,
        _handshake: &mut Handshake,
    ) -> Result<(), Rejection> {
        if req.query("EIO").as_deref() != Some("4") {
            return Err(Rejection::bad_request(
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ));
        }
        if req.query("transport").as_deref() != Some("websocket") || req.query("sid").is_some() {
            return Err(Rejection::bad_request(
                r#"{"code":0,"message":"Transport unknown"}"#,
            ));
        }
        Ok(())
    }

    async fn on_open(&self, conn: &Connection, _req: &Request) -> crate::Result<()> {
        let (work, queue) = mpsc::unbounded_channel();
        let session = Session {
            work,
            events: Arc::new(Semaphore::new(QUEUED_EVENTS)),
            sockets: Mutex::default(),
            partial: Mutex::default(),
            pong: AtomicBool::new(true),
            reason: Mutex::default(),
            tasks: Mutex::default(),
        };
        // Stored by value: the context hands out an `Arc` of it.
        conn.context().set(SESSION_KEY, session);
        let Some(session) = conn.context().get_shared::<Session>(SESSION_KEY) else {
            return Ok(());
        };
        let open = packet::open_packet(
            &super::socket::socket_id(conn.fd()),
            self.settings.ping_interval_ms,
            self.settings.ping_timeout_ms,
            self.settings.max_payload,
        );
        conn.push(open).await?;
        let worker = HandlerTask {
            namespaces: self.namespaces.clone(),
            conn: conn.clone(),
            session: session.clone(),
            ack_timeout: Duration::from_millis(self.settings.ack_timeout_ms),
        };
        let heartbeat = heartbeat(
            conn.clone(),
            session.clone(),
            Duration::from_millis(self.settings.ping_interval_ms),
            Duration::from_millis(self.settings.ping_timeout_ms),
        );
        let mut tasks = session.tasks.lock();
        tasks.push(tokio::spawn(worker.run(queue)));
        tasks.push(tokio::spawn(heartbeat));
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> crate::Result<()> {
        let Some(session) = conn.context().get_shared::<Session>(SESSION_KEY) else {
            return Ok(());
        };
        if msg.len() > self.settings.max_payload {
            session
                .reason
                .lock()
                .get_or_insert(DisconnectReason::ParseError);
            let _ = conn
                .shared
                .close(crate::ws::message::close_frame(1009, "payload too large"));
            return Ok(());
        }
        let outcome = match msg {
            Message::Text(text) => self.text(conn, &session, &text),
            Message::Binary(data) => self.binary(&session, data),
            _ => Ok(None),
        };
        match outcome {
            Ok(Some(mut work)) => {
                if let Work::Event { permit, .. } = &mut work {
                    // Waits for room in the queue: the client is slowed down by TCP.
                    *permit = session.events.clone().acquire_owned().await.ok();
                }
                let _ = session.work.send(work);
            }
            Ok(None) => {}
            Err(error) => self.fail(conn, &session, &error),
        }
        Ok(())
    }

    async fn on_close(&self, conn: &Connection, close: CloseInfo) {
        let Some(session) = conn.context().get_shared::<Session>(SESSION_KEY) else {
            return;
        };
        let reason = session
            .reason
            .lock()
            .take()
            .unwrap_or(match close.initiator {
                CloseInitiator::Client => DisconnectReason::TransportClose,
                CloseInitiator::Transport => DisconnectReason::TransportError,
                CloseInitiator::Server if close.code == 1001 => {
                    DisconnectReason::ServerShuttingDown
                }
                CloseInitiator::Server => DisconnectReason::ForcedServerClose,
            });
        let _ = session.work.send(Work::Closed(reason));
        let mut tasks = std::mem::take(&mut *session.tasks.lock());
        // The heartbeat (pushed last) has nothing left to do; the handler task ends after the
        // `on_disconnect`s, and shutdown waits for them, bounded so a stuck handler cannot
        // hold it.
        if let Some(heartbeat) = tasks.pop() {
            heartbeat.abort();
        }
        if let Some(worker) = tasks.pop() {
            let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
        }
    }
}

impl Engine {
    fn text(
        &self,
        conn: &Connection,
        session: &Session,
        text: &str,
    ) -> Result<Option<Work>, PacketError> {
        if session.partial.lock().is_some() {
            return Err(PacketError::Attachments);
        }
        match packet::decode_engine(text)? {
            EnginePacket::Pong => session.pong.store(true, Ordering::Release),
            EnginePacket::Ping => {
                let _ = conn.shared.push(Message::text("3"));
            }
            EnginePacket::Noop => {}
            EnginePacket::Close => {
                session
                    .reason
                    .lock()
                    .get_or_insert(DisconnectReason::TransportClose);
                let _ = conn.shared.close(crate::ws::message::close_frame(1000, ""));
            }
            EnginePacket::Message(body) => {
                let packet = packet::decode(body)?;
                if packet.attachments > 0 {
                    *session.partial.lock() = Some(Partial {
                        packet,
                        received: Vec::new(),
                    });
                    return Ok(None);
                }
                return self.packet(session, packet, Vec::new());
            }
        }
        Ok(None)
    }

    fn binary(&self, session: &Session, data: bytes::Bytes) -> Result<Option<Work>, PacketError> {
        let partial = session
            .partial
            .lock()
            .take()
            .ok_or(PacketError::Attachments)?;
        match partial.add(data) {
            Ok((packet, attachments)) => self.packet(session, packet, attachments),
            Err(waiting) => {
                *session.partial.lock() = Some(waiting);
                Ok(None)
            }
        }
    }
}

/// Pings every `interval`; a client that has not answered `timeout` later is dropped.
async fn heartbeat(conn: Connection, session: Arc<Session>, interval: Duration, timeout: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        session.pong.store(false, Ordering::Release);
        if conn.shared.push(Message::text("2")).is_err() {
            return;
        }
        tokio::time::sleep(timeout).await;
        if !session.pong.load(Ordering::Acquire) {
            session
                .reason
                .lock()
                .get_or_insert(DisconnectReason::PingTimeout);
            let _ = conn
                .shared
                .close(crate::ws::message::close_frame(1000, "ping timeout"));
            return;
        }
    }
}
