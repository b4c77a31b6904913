//! `cargo run -p echo-server`: a WebSocket server that echoes every text and binary message,
//! unchanged, on every path. The canonical target of the Autobahn case files
//! (`scripts/autobahn.sh`) and of benchmarks.

use ws_core::prelude::*;

/// Sends every data message back as it came: same opcode, same payload.
#[derive(Debug, Default)]
struct Echo;

impl WebSocketHandler for Echo {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    let mut app = App::new().fallback_config_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
    // matchit's catch-all does not match the bare `/`, so both routes are needed for every path
    // to echo.
    app.router("ws").ws("/", Echo).ws("/{*path}", Echo);
    app.run()
}
