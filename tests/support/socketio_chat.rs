//! The Socket.IO chat example (`examples/socketio-chat`) as a real process on free ports.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::{Spawned, binary, free_port, workspace_root};

/// The Socket.IO chat app running as its own process; killed on drop.
pub struct SocketIoChatProcess {
    /// The process.
    pub process: Spawned,
    /// The HTTP server (the page, the vendored client, `/chat/config`).
    pub http: SocketAddr,
    /// The WebSocket server (Socket.IO at `/socket.io/`).
    pub ws: SocketAddr,
}

impl SocketIoChatProcess {
    /// Builds the app (once per test process), starts it with its own `config/server.toml` on
    /// free ports of 127.0.0.1, and waits until both servers listen.
    pub fn start() -> Self {
        let (http_port, ws_port) = (free_port(), free_port());
        let mut command = Command::new(binary("socketio-chat", "socketio-chat"));
        command
            .current_dir(workspace_root())
            .env("WS_SERVER_HTTP_PORT", http_port.to_string())
            .env("WS_SERVER_WS_PORT", ws_port.to_string())
            .env("WS_SERVER_HTTP_HOST", "127.0.0.1")
            .env("WS_SERVER_WS_HOST", "127.0.0.1")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("WS_CONFIG_DIR");
        let mut process = Spawned::start(command);
        process.wait_for_output("WebSocket Server listening at", Duration::from_secs(60));
        process.wait_for_output("HTTP Server listening at", Duration::from_secs(10));
        Self {
            process,
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            ws: SocketAddr::from(([127, 0, 0, 1], ws_port)),
        }
    }

    /// `http://127.0.0.1:PORT/`: the page.
    pub fn page_url(&self) -> String {
        format!("http://{}/", self.http)
    }
}
