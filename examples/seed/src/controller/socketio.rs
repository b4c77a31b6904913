//! Hyperf's socketio-server guide example: namespace `/` of the `ws` server (9502).
//!
//! Clients connect with the stock Socket.IO clients (`transports: ["websocket"]`) to
//! `ws://HOST:9502`. Any other namespace is refused with `connect_error`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ws_core::prelude::*;
use ws_core::socketio::EmitError;

/// `say`'s data: `{"room": .., "message": ..}`, sent as a JSON string (as in Hyperf's guide) or
/// as an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SayData {
    /// The object itself.
    Object(Say),
    /// The object as a JSON string.
    Encoded(String),
}

/// Where to say what.
#[derive(Debug, Deserialize)]
pub struct Say {
    /// The room.
    pub room: String,
    /// The message.
    pub message: String,
}

/// `track`'s data: what the other members see of a socket (its presence metadata).
#[derive(Debug, Serialize, Deserialize)]
pub struct Member {
    /// The member's name.
    pub name: String,
}

/// The `/` namespace.
#[socketio_namespace(server = "ws", path = "/")]
pub struct SocketIoController {
    #[inject]
    io: SocketIo,
    /// Set once this node forwards presence changes to its clients.
    forwarding: OnceLock<()>,
}

#[socketio_events]
impl SocketIoController {
    /// Acknowledges with `Event Received: <data>`.
    #[event("event")]
    async fn on_event(&self, _socket: &Socket, data: serde_json::Value) -> String {
        let data = match data {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        format!("Event Received: {data}")
    }

    /// Acknowledges with its arguments unchanged, binary parts included.
    #[event("echo")]
    async fn on_echo(&self, _socket: &Socket, payload: Payload) -> Payload {
        payload
    }

    /// Joins the room; the other members hear of it, the joiner learns how many are in it,
    /// counted across the cluster.
    #[event("join-room")]
    async fn on_join_room(&self, socket: &Socket, room: String) {
        self.forward_presence();
        if let Err(error) = self.join_room(socket, &room).await {
            tracing::warn!(%error, room, "join-room");
        }
    }

    /// Tracks the socket: the members of its rooms, on every node, get a `presence` event
    /// when it joins or leaves one (Phoenix Presence's `presence_diff`).
    #[event("track")]
    async fn on_track(&self, socket: &Socket, member: Member) -> String {
        self.forward_presence();
        match socket.set_presence(&member).await {
            Ok(()) => "tracked".into(),
            Err(error) => error.to_string(),
        }
    }

    /// Tells the other members of the room, on every node, what the sender says.
    #[event("say")]
    async fn on_say(&self, socket: &Socket, data: SayData) -> Option<String> {
        let say = match data {
            SayData::Object(say) => say,
            SayData::Encoded(json) => match serde_json::from_str::<Say>(&json) {
                Ok(say) => say,
                Err(error) => return Some(format!("invalid say: {error}")),
            },
        };
        let text = format!("{} say: {}", socket.id(), say.message);
        let sent = socket.to(&say.room).emit("event", text).await;
        sent.err().map(|error| error.to_string())
    }
}

impl SocketIoController {
    /// Forwards every presence change, which each node hears once, to this node's members of
    /// the room: each client gets it once, wherever the change happened.
    fn forward_presence(&self) {
        self.forwarding.get_or_init(|| {
            let io = self.io.clone();
            let mut changes = io.presence();
            tokio::spawn(async move {
                while let Some(change) = changes.recv().await {
                    let room = change.room.clone();
                    let to = io.of(&change.namespace).local().to(&room);
                    if let Err(error) = to.emit("presence", change).await {
                        tracing::debug!(%error, room, "presence change not forwarded");
                    }
                }
            });
        });
    }

    async fn join_room(&self, socket: &Socket, room: &str) -> Result<(), EmitError> {
        socket.join(room).await?;
        let joined = format!("{} has joined {room}", socket.id());
        socket.to(room).emit("event", joined).await?;
        let players = self.io.room_size(room).await?;
        socket
            .emit("event", format!("There are {players} players in {room}"))
            .await
    }
}
