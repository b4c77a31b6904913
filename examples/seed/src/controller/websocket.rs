//! The guide's first controller: `Opened` on open, `Recv: <data>` for every message.

use ws_core::prelude::*;

/// `ws` server, `/`.
#[ws_controller(server = "ws", path = "/")]
#[derive(Debug, Default)]
pub struct WebSocketController;

impl WebSocketHandler for WebSocketController {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        conn.push("Opened").await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(format!("Recv: {}", msg.to_text()?)).await?;
        Ok(())
    }

    async fn on_close(&self, conn: &Connection, close: CloseInfo) {
        tracing::info!(fd = %conn.fd(), code = close.code, "closed");
    }
}
