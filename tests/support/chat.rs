//! The chat example (`examples/chat`) as a real process on free ports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::{Spawned, binary, free_port, workspace_root};

/// The chat app running as its own process.
pub struct ChatProcess {
    /// The process.
    pub process: Spawned,
    /// The HTTP server (the page, `/chat/*`, `/metrics`).
    pub http: SocketAddr,
    /// The WebSocket server (`/chat`).
    pub ws: SocketAddr,
    config_dir: Option<PathBuf>,
}

impl ChatProcess {
    /// Starts the chat with its own `config/server.toml` on free ports.
    pub fn start() -> Self {
        Self::start_on(free_port(), free_port(), None)
    }

    /// Starts the chat on the given ports, with `[app] history = N` when `history` is set, and
    /// waits until both servers listen.
    pub fn start_on(http_port: u16, ws_port: u16, history: Option<usize>) -> Self {
        let mut command = Command::new(binary("chat", "chat"));
        command
            .current_dir(workspace_root())
            .env("WS_SERVER_HTTP_PORT", http_port.to_string())
            .env("WS_SERVER_WS_PORT", ws_port.to_string())
            .env("WS_SERVER_HTTP_HOST", "127.0.0.1")
            .env("WS_SERVER_WS_HOST", "127.0.0.1")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("WS_CONFIG_DIR");
        let config_dir = history.map(|history| {
            let source = workspace_root().join("examples/chat/config/server.toml");
            let toml = std::fs::read_to_string(&source).expect("the chat's server.toml");
            assert!(toml.contains("\nhistory = 50\n"), "{toml}");
            let toml = toml.replace("\nhistory = 50\n", &format!("\nhistory = {history}\n"));
            let dir = std::env::temp_dir().join(format!(
                "ws-chat-config-{}-{}",
                std::process::id(),
                free_port()
            ));
            std::fs::create_dir_all(&dir).expect("a config folder");
            std::fs::write(dir.join("server.toml"), toml).expect("server.toml written");
            command.arg("--config").arg(&dir);
            dir
        });
        let mut process = Spawned::start(command);
        process.wait_for_output("WebSocket Server listening at", Duration::from_secs(60));
        process.wait_for_output("HTTP Server listening at", Duration::from_secs(10));
        Self {
            process,
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            ws: SocketAddr::from(([127, 0, 0, 1], ws_port)),
            config_dir,
        }
    }

    /// `http://127.0.0.1:PORT/`: the page.
    pub fn page_url(&self) -> String {
        format!("http://{}/", self.http)
    }

    /// `ws://127.0.0.1:PORT/chat`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/chat", self.ws)
    }

    /// Stops the process with SIGTERM and waits (bounded) for it to exit.
    pub fn stop(mut self) -> Option<std::process::ExitStatus> {
        self.process.signal(false);
        self.process.wait(Duration::from_secs(15))
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        if let Some(dir) = &self.config_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
