//! Rooms: `/room?name=NAME` joins room NAME on open; each message goes to the whole room.

use ws_core::prelude::*;

/// `ws` server, `/room`.
#[ws_controller(server = "ws", path = "/room")]
#[derive(Debug, Default)]
pub struct RoomController;

impl WebSocketHandler for RoomController {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        let Some(room) = req.query("name").filter(|n| !n.is_empty()) else {
            conn.close(1008, "the `name` query parameter names the room")
                .await?;
            return Ok(());
        };
        conn.join(&room).await?;
        conn.context().set("room", room);
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        // Shared, not cloned: this runs for every message the room forwards.
        if let Some(room) = conn.context().get_shared::<String>("room") {
            conn.sender().to_room(&room, msg, None).await?;
        }
        Ok(())
    }
}
