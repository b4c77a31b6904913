//! The Engine.IO session at `/socket.io/`: the open packet, the server-driven heartbeat, reading
//! packets, and the task that runs the namespaces' handlers. A session lives on a connection: a
//! WebSocket's, or the bare connection of a long-polling session (`polling.rs`), which a
//! WebSocket may then carry (`upgrade.rs`).
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
use super::poll_session::{PollSession, PollSessions, new_sid};
use super::reason::DisconnectReason;
use super::recovery::Recovery;
use super::session::Session;
use super::upgrade::Carrier;
use super::work::Work;
use super::worker::HandlerTask;
use crate::config::{SocketIoSettings, SocketIoTransport};
use crate::ws::handshake::{Handshake, Rejection};
use crate::{CloseInfo, CloseInitiator, Connection, Message, Request, WebSocketHandler};

/// Events read but not yet handled, per connection. Past it the reader waits (TCP
/// backpressure); an answer the handlers await is still read, since the reader only waits here
/// once this many events queue up, and each awaited answer has its timeout.
const QUEUED_EVENTS: usize = 256;

/// The key of a connection's Engine.IO session in its context.
const SESSION_KEY: &str = "\u{1}socket.io";

/// The key of the polling session a WebSocket carries (or probes for), in its context.
const CARRIER_KEY: &str = "\u{1}socket.io carrier";

/// Socket.IO on one WebSocket server: its namespaces and settings.
pub(crate) struct Engine {
    namespaces: HashMap<String, Arc<dyn NamespaceEvents>>,
    pub(crate) settings: SocketIoSettings,
    /// The sessions opened by long-polling, by sid.
    pub(crate) polled: PollSessions,
    recovery: Arc<Recovery>,
}

impl Engine {
    pub(crate) fn new(
        namespaces: HashMap<String, Arc<dyn NamespaceEvents>>,
        settings: SocketIoSettings,
        recovery: Arc<Recovery>,
    ) -> Self {
        Self {
            namespaces,
            settings,
            polled: PollSessions::default(),
            recovery,
        }
    }

    /// Whether clients may use `transport`.
    pub(crate) fn allows(&self, transport: SocketIoTransport) -> bool {
        self.settings.transports.contains(&transport)
    }

    /// Ends a polling session once: `on_disconnect`s run, then its connection is gone.
    pub(crate) async fn end_polled(&self, session: &PollSession, close: CloseInfo) {
        if !session.take_end() {
            return;
        }
        self.polled.remove(&session.sid);
        let conn = session.connection();
        tracing::debug!(fd = %conn.fd(), code = close.code, reason = %close.reason, "socket.io polling session ended");
        self.finish(conn, close).await;
        conn.context().clear();
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
        handshake: &mut Handshake,
    ) -> Result<(), Rejection> {
        if req.query("EIO").as_deref() != Some("4") {
            return Err(Rejection::bad_request(
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ));
        }
        if req.query("transport").as_deref() != Some("websocket")
            || !self.allows(SocketIoTransport::Websocket)
        {
            return Err(Rejection::bad_request(
                r#"{"code":0,"message":"Transport unknown"}"#,
            ));
        }
        if let Some(sid) = req.query("sid") {
            let session = self
                .polled
                .get(&sid)
                .filter(|s| !s.is_upgraded() && !s.is_ended())
                .ok_or_else(|| {
                    Rejection::bad_request(r#"{"code":1,"message":"Session ID unknown"}"#)
                })?;
            handshake.context().set(CARRIER_KEY, Carrier { session });
        }
        Ok(())
    }

    async fn on_open(&self, conn: &Connection, _req: &Request) -> crate::Result<()> {
        if conn.context().get_shared::<Carrier>(CARRIER_KEY).is_some() {
            return Ok(());
        }
        self.start(conn, &new_sid(), &[]).await
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> crate::Result<()> {
        match conn.context().get_shared::<Carrier>(CARRIER_KEY) {
            Some(carrier) => match carrier.inbound(conn, msg) {
                Some(msg) => self.receive(carrier.session.connection(), msg).await,
                None => Ok(()),
            },
            None => self.receive(conn, msg).await,
        }
    }

    async fn on_close(&self, conn: &Connection, close: CloseInfo) {
        match conn.context().get_shared::<Carrier>(CARRIER_KEY) {
            Some(carrier) if carrier.session.is_upgraded() => {
                self.end_polled(&carrier.session, close).await;
            }
            Some(carrier) => carrier.abandon(),
            None => self.finish(conn, close).await,
        }
    }
}

impl Engine {
    /// Opens the Engine.IO session on `conn`: the open packet with `sid`, the heartbeat and
    /// the handler task.
    pub(crate) async fn start(
        &self,
        conn: &Connection,
        sid: &str,
        upgrades: &[&str],
    ) -> crate::Result<()> {
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
            sid,
            upgrades,
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
            recovery: self.recovery.clone(),
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

    /// Reads one message of the session on `conn`.
    pub(crate) async fn receive(&self, conn: &Connection, msg: Message) -> crate::Result<()> {
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

    /// Ends the session on `conn`: every namespace's `on_disconnect`, with the reason.
    pub(crate) async fn finish(&self, conn: &Connection, close: CloseInfo) {
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
        // Between a ping and its deadline, as the heartbeat waits anyway: a recovering
        // socket's session is written again before it could expire under a live client.
        let sockets: Vec<_> = (session.sockets.lock().values())
            .filter(|socket| socket.pid().is_some())
            .cloned()
            .collect();
        let refreshed = async {
            for socket in sockets {
                socket.refresh_session().await;
            }
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let _ = tokio::time::timeout_at(deadline, refreshed).await;
        tokio::time::sleep_until(deadline).await;
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
