//! Echoes every message unchanged, same opcode: the target of benchmarks and protocol checks.

use ws_core::prelude::*;

/// `ws` server, `/echo`.
#[ws_controller(server = "ws", path = "/echo")]
#[derive(Debug, Default)]
pub struct EchoController;

impl WebSocketHandler for EchoController {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}
