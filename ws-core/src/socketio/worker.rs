//! The task that runs one connection's namespace handlers, one piece of [`Work`] at a time.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::emit::{id_key, namespace_key, room_key};
use super::frames::{ack_frames, frames};
use super::identity::Identity;
use super::namespace::NamespaceEvents;
use super::packet::{Kind, Packet};
use super::payload::Payload;
use super::reason::DisconnectReason;
use super::recovery::entry::Recorded;
use super::recovery::{Recovery, Resumed};
use super::session::Session;
use super::socket::Socket;
use super::work::Work;
use crate::{Connection, Message};

/// The task that runs one connection's handlers, in the order the client's packets came.
pub(crate) struct HandlerTask {
    pub(crate) namespaces: HashMap<String, Arc<dyn NamespaceEvents>>,
    pub(crate) conn: Connection,
    pub(crate) session: Arc<Session>,
    pub(crate) ack_timeout: Duration,
    pub(crate) recovery: Arc<Recovery>,
}

impl HandlerTask {
    pub(crate) async fn run(self, mut queue: mpsc::UnboundedReceiver<Work>) {
        while let Some(work) = queue.recv().await {
            let outcome = AssertUnwindSafe(self.step(work)).catch_unwind().await;
            match outcome {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    tracing::error!(fd = %self.conn.fd(), "a socket.io handler panicked; closing the connection");
                    let _ = self
                        .conn
                        .shared
                        .close(crate::ws::message::close_frame(1011, "handler panicked"));
                }
            }
        }
    }

    /// Does one piece of work; `false` once the connection has closed.
    async fn step(&self, work: Work) -> bool {
        match work {
            Work::Connect { namespace, auth } => self.connect(namespace, auth).await,
            Work::Event {
                namespace,
                ack,
                args,
                attachments,
                permit: _permit,
            } => self.event(&namespace, ack, args, attachments).await,
            Work::Leave { namespace, reason } => self.leave(&namespace, reason).await,
            Work::Closed(reason) => {
                let sockets: Vec<(String, Socket)> = self.session.sockets.lock().drain().collect();
                for (namespace, socket) in sockets {
                    // Written once more: its lifetime counts from the loss of its transport.
                    match reason.is_recoverable() {
                        true => socket.keep_session().await,
                        false => socket.forget_session().await,
                    }
                    socket.mark_disconnected();
                    socket.left_every_room().await;
                    if let Some(handler) = self.namespaces.get(&namespace) {
                        handler.disconnect(&socket, reason).await;
                    }
                    socket.drop_data();
                }
                return false;
            }
        }
        true
    }

    async fn connect(&self, namespace: String, auth: Payload) {
        let refuse = |message: &str| {
            let packet = Packet {
                kind: Kind::ConnectError,
                namespace: namespace.clone(),
                ack: None,
                data: serde_json::json!({ "message": message }),
                attachments: 0,
            };
            let _ = self.conn.shared.push(Message::text(packet.encode()));
        };
        let Some(handler) = self.namespaces.get(&namespace) else {
            refuse("Invalid namespace");
            return;
        };
        if self.session.sockets.lock().contains_key(&namespace) {
            return;
        }
        let mut auth = auth.args().first().cloned();
        let recovering = self.recovery.covers(&namespace);
        let resumed = match recovering {
            true => self.resume(&namespace, auth.as_mut()).await,
            false => None,
        };
        let identity = match &resumed {
            Some((pid, resumed)) => Identity {
                id: resumed.saved.id.clone(),
                pid: Some(pid.clone()),
                recovered: true,
            },
            None => Identity::fresh(&self.conn, recovering),
        };
        let socket = Socket::new(
            Arc::from(namespace.as_str()),
            self.conn.clone(),
            self.ack_timeout,
            self.session.work.clone(),
            identity,
            self.recovery.clone(),
        );
        let auth = Payload::new(auth.into_iter().collect());
        if let Err(message) = handler.connect(&socket, auth).await {
            socket.mark_disconnected();
            socket.drop_data();
            refuse(&message);
            return;
        }
        let mut data = serde_json::json!({ "sid": socket.id() });
        if let Some(pid) = socket.pid() {
            data["pid"] = Value::String(pid.to_owned());
        }
        let connected = Packet {
            kind: Kind::Connect,
            namespace: namespace.clone(),
            ack: None,
            data,
            attachments: 0,
        };
        let connected = Message::text(connected.encode());
        let joined = match resumed {
            None => {
                let joined = async {
                    self.conn.join(&namespace_key(&namespace)).await?;
                    self.conn.join(&room_key(&namespace, socket.id())).await
                };
                joined.await.is_ok()
            }
            Some((_, resumed)) => {
                // Before the replay, which is what the client reads after CONNECT.
                let _ = self.conn.shared.push(connected.clone());
                self.restore(&socket, resumed).await
            }
        };
        if !joined {
            return;
        }
        // In before the client hears of it: its acknowledgements are looked up here.
        self.session
            .sockets
            .lock()
            .insert(namespace, socket.clone());
        if !socket.recovered() {
            let _ = self.conn.shared.push(connected);
        }
        socket.keep_session().await;
    }

    /// Takes the session the client's `auth` names (its `pid` and `offset`, which the
    /// handlers do not see) out of the store; `None` when there is none to recover.
    async fn resume(&self, namespace: &str, auth: Option<&mut Value>) -> Option<(String, Resumed)> {
        let auth = auth?.as_object_mut()?;
        let pid = auth.remove("pid");
        let offset = auth.remove("offset");
        let (Some(Value::String(pid)), Some(Value::String(offset))) = (pid, offset) else {
            return None;
        };
        match self.recovery.resume(namespace, &pid, &offset).await {
            Ok(resumed) => resumed.map(|resumed| (pid, resumed)),
            Err(error) => {
                tracing::warn!(fd = %self.conn.fd(), %error, "cannot recover a socket.io session; it connects afresh");
                None
            }
        }
    }

    /// Gives a recovered socket back its rooms and what it missed, in order: what was missed
    /// before it rejoined, then what came while it rejoined (which a live emit may deliver
    /// again: see the recovery guide). `false` when it could not rejoin.
    async fn restore(&self, socket: &Socket, resumed: Resumed) -> bool {
        let namespace = socket.namespace();
        let mut last = None;
        for (offset, recorded) in resumed.missed {
            self.replay(socket, &offset, &recorded);
            last = Some(offset);
        }
        let joined = async {
            self.conn.join(&namespace_key(namespace)).await?;
            self.conn.join(&room_key(namespace, socket.id())).await?;
            self.conn.join(&id_key(namespace, socket.id())).await
        };
        if joined.await.is_err() {
            return false;
        }
        // The session is written once, by `connect`, when the socket is back.
        for room in &resumed.saved.rooms {
            if room != socket.id() {
                let _ = socket.join_room(room).await;
            }
        }
        // Tracked again after its rooms: its old node announced it gone from each of them.
        if let Some(meta) = resumed.saved.presence.clone() {
            socket.track(meta).await;
        }
        // Read from the store itself, not this node's copy, which may be up to 100 ms old: it
        // must hold everything emitted before the socket was back in its rooms.
        let since = last.unwrap_or(resumed.offset);
        match self
            .recovery
            .missed(namespace, &resumed.saved, &since)
            .await
        {
            Ok(Some(meanwhile)) => {
                for (offset, recorded) in meanwhile {
                    self.replay(socket, &offset, &recorded);
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(fd = %self.conn.fd(), %error, "cannot read what a recovered socket.io session missed while it rejoined");
            }
        }
        true
    }

    /// Sends a recorded emit to `socket`, with its offset last.
    fn replay(&self, socket: &Socket, offset: &str, recorded: &Recorded) {
        let Some(attachments) = recorded.attachment_bytes() else {
            tracing::warn!(%offset, "a recorded socket.io packet has bad attachments; skipped");
            return;
        };
        let mut args = recorded.args.clone();
        args.push(Value::String(offset.to_owned()));
        let _ = socket.send(frames(
            Kind::Event,
            socket.namespace(),
            None,
            args,
            attachments,
        ));
    }

    async fn event(
        &self,
        namespace: &str,
        ack: Option<u64>,
        mut args: Vec<Value>,
        attachments: Vec<bytes::Bytes>,
    ) {
        let Some(socket) = self.session.sockets.lock().get(namespace).cloned() else {
            return;
        };
        let Some(handler) = self.namespaces.get(namespace) else {
            return;
        };
        let name = match args.first() {
            Some(Value::String(_)) => match args.remove(0) {
                Value::String(name) => name,
                _ => return,
            },
            _ => return,
        };
        let payload = Payload::from_parts(args, attachments);
        let Some(running) = handler.event(&socket, &name, payload) else {
            tracing::debug!(fd = %self.conn.fd(), event = %name, "no handler for the event");
            return;
        };
        let answer = running.await;
        if let Some(id) = ack {
            let _ = socket.send(ack_frames(namespace, id, answer));
        }
    }

    async fn leave(&self, namespace: &str, reason: DisconnectReason) {
        let Some(socket) = self.session.sockets.lock().remove(namespace) else {
            return;
        };
        socket.mark_disconnected();
        socket.forget_session().await;
        let sender = self.conn.sender();
        let prefix = room_key(namespace, "");
        for room in sender.rooms_of(self.conn.fd()) {
            if room.starts_with(&prefix) || room == namespace_key(namespace) {
                let _ = sender.leave(self.conn.fd(), &room).await;
            }
        }
        socket.left_every_room().await;
        if let Some(handler) = self.namespaces.get(namespace) {
            handler.disconnect(&socket, reason).await;
        }
        socket.drop_data();
    }
}
