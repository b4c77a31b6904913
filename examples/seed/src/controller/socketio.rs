//! Hyperf's socketio-server guide example: namespace `/` of the `ws` server (9502).
//!
//! Clients connect with the stock Socket.IO clients (`transports: ["websocket"]`) to
//! `ws://HOST:9502`. Any other namespace is refused with `connect_error`.

use serde::Deserialize;
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

/// The `/` namespace.
#[socketio_namespace(server = "ws", path = "/")]
pub struct SocketIoController {
    #[inject]
    io: SocketIo,
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
        if let Err(error) = self.join_room(socket, &room).await {
            tracing::warn!(%error, room, "join-room");
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
