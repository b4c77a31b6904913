//! `{{struct_name}}`: a WebSocket controller on server `{{server}}`, path `{{path}}`.

use ws_core::prelude::*;

/// Echoes every message back as it came; replace the bodies with the app's own protocol.
#[ws_controller(server = "{{server}}", path = "{{path}}")]
pub struct {{struct_name}} {
    #[inject]
    sender: Sender,
}

impl WebSocketHandler for {{struct_name}} {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        tracing::debug!(fd = %conn.fd(), node = %self.sender.node(), "{{module}} opened");
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }

    async fn on_close(&self, conn: &Connection, close: CloseInfo) {
        tracing::debug!(fd = %conn.fd(), code = close.code, "{{module}} closed");
    }
}
