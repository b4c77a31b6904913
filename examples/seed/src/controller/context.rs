//! The guide's connection-context controller: the `username` cookie, kept per connection.

use ws_core::prelude::*;

/// `ws` server, `/context`.
#[ws_controller(server = "ws", path = "/context")]
#[derive(Debug, Default)]
pub struct ContextController;

impl WebSocketHandler for ContextController {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        conn.context()
            .set("username", req.cookie("username").unwrap_or_default());
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, _msg: Message) -> Result<()> {
        let username: String = conn.context().get("username").unwrap_or_default();
        conn.push(format!("Username: {username}")).await?;
        Ok(())
    }
}
