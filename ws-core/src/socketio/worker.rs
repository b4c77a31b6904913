//! The task that runs one connection's namespace handlers, one piece of [`Work`] at a time.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::emit::{ack_frames, namespace_key, room_key};
use super::namespace::NamespaceEvents;
use super::packet::{Kind, Packet};
use super::payload::Payload;
use super::reason::DisconnectReason;
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
        let socket = Socket::new(
            Arc::from(namespace.as_str()),
            self.conn.clone(),
            self.ack_timeout,
            self.session.work.clone(),
        );
        let auth = Payload::new(auth.args().first().cloned().into_iter().collect());
        if let Err(message) = handler.connect(&socket, auth).await {
            socket.mark_disconnected();
            socket.drop_data();
            refuse(&message);
            return;
        }
        let joined = async {
            self.conn.join(&namespace_key(&namespace)).await?;
            self.conn.join(&room_key(&namespace, socket.id())).await
        };
        if joined.await.is_err() {
            return;
        }
        self.session
            .sockets
            .lock()
            .insert(namespace.clone(), socket.clone());
        let packet = Packet {
            kind: Kind::Connect,
            namespace,
            ack: None,
            data: serde_json::json!({ "sid": socket.id() }),
            attachments: 0,
        };
        let _ = self.conn.shared.push(Message::text(packet.encode()));
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
