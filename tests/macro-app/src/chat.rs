//! WebSocket controllers.

use std::sync::Arc;

use ws_core::prelude::*;

use crate::services::{Counter, RoomPolicy};

/// `/chat`: greets with the `app.greeting` value and the connection's fd, echoes messages.
#[ws_controller(server = "ws", path = "/chat", protocols = ["chat.v2", "chat.v1"])]
#[derive(Debug)]
pub struct ChatController {
    #[value("app.greeting")]
    greeting: String,
    #[inject]
    rooms: Arc<RoomPolicy>,
    #[inject]
    counter: Arc<Counter>,
}

impl WebSocketHandler for ChatController {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        self.counter.hit();
        conn.push(format!(
            "{} {} (max {} rooms)",
            self.greeting,
            conn.fd(),
            self.rooms.max
        ))
        .await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(format!("Recv: {}", msg.to_text()?)).await?;
        Ok(())
    }
}

/// `/`: a unit controller, the seed's echo.
#[ws_controller(server = "ws", path = "/")]
pub struct EchoController;

impl WebSocketHandler for EchoController {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}
