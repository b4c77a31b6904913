//! In-process test support, like Phoenix's `ChannelTest`: boot an app on free ports and drive it
//! with a real WebSocket client over TCP. Enable the `testing` feature in `[dev-dependencies]`.
//!
//! ```no_run
//! use ws_core::prelude::*;
//! use ws_core::testing::TestServer;
//!
//! #[derive(Default)]
//! struct Echo;
//! impl WebSocketHandler for Echo {
//!     async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
//!         conn.push(msg).await?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn demo() {
//! let mut app = App::new();
//! app.router("ws").ws("/", Echo);
//! let server = TestServer::start(app, TestServer::DEFAULT_CONFIG).await.unwrap();
//! let mut client = server.connect("ws", "/").await;
//! client.send("hi").await;
//! client.assert_push("hi").await;
//! server.shutdown().await;
//! # }
//! ```

mod client;
mod connect;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use client::{TestClient, TestStream};
pub use connect::{Connect, ConnectError};

use crate::{App, BootError, Config, RunningApp, Sender};

/// How long a test helper waits for something before failing the test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A booted app on `127.0.0.1` with every server on a free port.
#[derive(Debug)]
pub struct TestServer {
    running: RunningApp,
}

impl TestServer {
    /// A config with an `http` server and a `ws` server, both on free ports.
    pub const DEFAULT_CONFIG: &'static str = r#"
[[servers]]
name = "http"
type = "http"
host = "127.0.0.1"
port = 0

[[servers]]
name = "ws"
type = "websocket"
host = "127.0.0.1"
port = 0
"#;

    /// Boots `app` with the config in `toml`, every port replaced by 0 and every host by
    /// `127.0.0.1`.
    pub async fn start(app: App, toml: &str) -> Result<Self, BootError> {
        let config = Config::from_toml_str(toml)?;
        Self::start_with(app, config).await
    }

    /// Boots `app` with `config`, every port replaced by 0 and every host by `127.0.0.1`.
    pub async fn start_with(app: App, mut config: Config) -> Result<Self, BootError> {
        for server in &mut config.servers {
            server.port = 0;
            server.host = "127.0.0.1".into();
        }
        let running = app.with_config(config).start().await?;
        Ok(Self { running })
    }

    /// The running app.
    pub fn app(&self) -> &RunningApp {
        &self.running
    }

    /// The app's [`Sender`].
    pub fn sender(&self) -> Sender {
        self.running.sender()
    }

    /// `ws://127.0.0.1:PORT{path}` of server `server`.
    ///
    /// # Panics
    /// When the app has no server of that name: a test setup error.
    pub fn ws_url(&self, server: &str, path: &str) -> String {
        format!("ws://{}{path}", self.addr(server))
    }

    fn addr(&self, server: &str) -> std::net::SocketAddr {
        self.running
            .addr(server)
            .unwrap_or_else(|| panic!("the test app has no server named `{server}`"))
    }

    /// Connects a [`TestClient`] to `path` on server `server`.
    ///
    /// # Panics
    /// When the handshake fails; the message names the caller's line.
    #[track_caller]
    pub fn connect(&self, server: &str, path: &str) -> impl Future<Output = TestClient> + use<> {
        TestClient::connect(&self.ws_url(server, path))
    }

    /// A connection to `path` on server `server` with headers, cookies, subprotocols or a
    /// timeout of its own.
    ///
    /// ```no_run
    /// # async fn demo(server: ws_core::testing::TestServer) {
    /// let client = server
    ///     .build("ws", "/chat")
    ///     .cookie("username", "alice")
    ///     .protocol("chat.v1")
    ///     .connect()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(client.protocol(), Some("chat.v1"));
    /// # }
    /// ```
    pub fn build(&self, server: &str, path: &str) -> Connect {
        Connect::new(self.ws_url(server, path))
    }

    /// Sends an HTTP request to server `server` and returns the status and body.
    pub async fn http(
        &self,
        server: &str,
        method: &str,
        path_and_query: &str,
        body: &str,
    ) -> (u16, String) {
        http_request(self.addr(server), method, path_and_query, &[], body).await
    }

    /// `GET` on server `server`.
    pub async fn get(&self, server: &str, path_and_query: &str) -> (u16, String) {
        self.http(server, "GET", path_and_query, "").await
    }

    /// Shuts the app down gracefully.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// A minimal HTTP/1.1 client: one request per connection, `Connection: close`.
///
/// # Panics
/// When the server cannot be reached or answers something that is not HTTP.
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut head = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(DEFAULT_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("HTTP {method} {path_and_query} timed out"))
        .unwrap_or_else(|e| panic!("HTTP {method} {path_and_query} failed: {e}"));
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
