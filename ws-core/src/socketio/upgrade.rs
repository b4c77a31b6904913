//! The upgrade of a polling session to WebSocket (Engine.IO v4): the client opens a WebSocket
//! with the session's `sid`, probes it (`2probe` → `3probe`), stops polling, and sends `5`;
//! from then on the WebSocket carries the session.
//!
//! The WebSocket connection only carries: the session stays on its bare connection, so its
//! socket ids, rooms and handlers are the same before and after. What the session queues is
//! moved onto the WebSocket by a forwarding task; what the client sends is handed to the
//! session's connection.

use std::sync::Arc;

use super::poll_session::PollSession;
use super::poll_wire::NOOP;
use crate::ws::outbox::Outbound;
use crate::{Connection, Message};

/// A WebSocket opened to upgrade a polling session.
#[derive(Debug)]
pub(crate) struct Carrier {
    pub(crate) session: Arc<PollSession>,
}

impl Carrier {
    /// What the client sent on the WebSocket: during the probe, its answer is sent here; once
    /// upgraded, the message is the session's, to be read on its connection.
    pub(crate) fn inbound(&self, ws: &Connection, msg: Message) -> Option<Message> {
        let session = &self.session;
        if session.is_upgraded() {
            return Some(msg);
        }
        let Message::Text(text) = &msg else {
            return None;
        };
        match text.as_str() {
            "2probe" => {
                let _ = ws.shared.push(Message::text("3probe"));
                session.set_probing(true);
                // The held GET returns at once, so the client can pause polling.
                let _ = session.connection().shared.push(Message::text(NOOP));
            }
            "5" if session.is_probing() => {
                let forwarding = tokio::spawn(forward(session.clone(), ws.clone()));
                if session.upgrade(forwarding) {
                    tracing::debug!(fd = %session.connection().fd(), carrier = %ws.fd(), "socket.io session upgraded to websocket");
                }
            }
            // Engine.IO sends nothing else before the upgrade completes.
            _ => {}
        }
        None
    }

    /// The WebSocket closed before the upgrade completed: polling goes on.
    pub(crate) fn abandon(&self) {
        if !self.session.is_upgraded() {
            self.session.set_probing(false);
        }
    }
}

/// Moves what the session queues onto the WebSocket, until either closes.
async fn forward(session: Arc<PollSession>, ws: Connection) {
    loop {
        for item in session.bare.next_queued().await {
            match item {
                Outbound::Message(message) => {
                    if ws.shared.push(message).is_err() {
                        return;
                    }
                }
                Outbound::Close(frame) => {
                    let _ = ws.shared.close(frame);
                    return;
                }
                // A bare connection is only ever queued messages and closes.
                Outbound::Rest(_) | Outbound::Frame { .. } => {}
            }
        }
    }
}
