//! `/socketio/presence?room=NAME`: who is in a Socket.IO room of namespace `/`, on every node of
//! the cluster, with their node, rooms and presence metadata (set by the `track` event).

use serde_json::{Value, json};
use ws_core::prelude::*;

/// HTTP server `http`, prefix `/socketio`.
#[controller(prefix = "/socketio")]
pub struct PresenceController {
    #[inject]
    io: SocketIo,
}

#[auto_routes]
impl PresenceController {
    /// `/socketio/presence?room=NAME`: `[{"id", "node", "rooms", "meta"}]` sorted by id, or
    /// `{"error": ..}` when the cluster cannot be asked.
    pub async fn presence(&self, room: String) -> Json<Value> {
        let sockets = match self.io.fetch_sockets(&room).await {
            Ok(sockets) => sockets,
            Err(error) => return Json(json!({ "error": error.to_string() })),
        };
        let mut members: Vec<Value> = sockets
            .iter()
            .map(|socket| {
                json!({
                    "id": socket.id(),
                    "node": socket.node(),
                    "rooms": socket.rooms(),
                    "meta": socket.presence_json(),
                })
            })
            .collect();
        members.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        Json(Value::Array(members))
    }
}
