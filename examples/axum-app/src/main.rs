//! The framework inside an axum app, on one port: an axum route (`GET /hello`), tower-http's
//! CORS and trace layers, the framework's WebSocket controller at `/ws`, and axum handlers that
//! use the framework's `Sender` (`POST /push`, `GET /connections`).
//!
//! `cargo run -p axum-app`, then `ws-cli client ws://127.0.0.1:3000/ws`. The port is
//! `AXUM_APP_PORT` (3000 by default), the host `AXUM_APP_HOST` (127.0.0.1).

use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;
use ws_core::prelude::*;

/// The seed's `/` controller, served at `/ws` of the axum app.
#[ws_controller(server = "ws", path = "/ws")]
#[derive(Default)]
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
}

/// `?fd=N`: the connection `POST /push` writes to; every connection of the node without it.
#[derive(Debug, serde::Deserialize)]
struct PushTarget {
    fd: Option<Fd>,
}

/// `POST /push[?fd=N]` with a text body: pushes it through the framework's `Sender`.
async fn push(
    State(sender): State<Sender>,
    Query(target): Query<PushTarget>,
    body: String,
) -> (StatusCode, String) {
    let fds = match target.fd {
        Some(fd) => vec![fd],
        None => sender.local_fds(),
    };
    let mut pushed = 0;
    for fd in fds {
        match sender.push(fd, body.clone()).await {
            Ok(()) => pushed += 1,
            Err(error) => return (StatusCode::NOT_FOUND, format!("{fd}: {error}\n")),
        }
    }
    (StatusCode::OK, format!("pushed to {pushed}\n"))
}

/// `GET /connections`: this node's fds, as JSON.
async fn connections(State(sender): State<Sender>) -> axum::Json<Vec<Fd>> {
    axum::Json(sender.local_fds())
}

/// SIGINT or SIGTERM.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=debug".into()),
        )
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();

    let embedded = App::new()
        .fallback_config_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .start_embedded()
        .await?;
    let ws = embedded
        .ws_service("ws")
        .context("config/server.toml defines no `ws` server")?;

    let app = Router::new()
        .route("/hello", get(|| async { "Hello from axum\n" }))
        .route("/push", post(push))
        .route("/connections", get(connections))
        .route_service("/ws", ws)
        .with_state(embedded.sender())
        .layer(CorsLayer::permissive().max_age(Duration::from_secs(600)))
        .layer(TraceLayer::new_for_http());

    let host = std::env::var("AXUM_APP_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = match std::env::var("AXUM_APP_PORT") {
        Ok(port) => port.parse().context("AXUM_APP_PORT is not a port number")?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("cannot bind {host}:{port}"))?;
    let addr = listener.local_addr()?;
    tracing::info!("axum-app listening at {host}:{}", addr.port());

    axum::serve(listener, app)
        .with_graceful_shutdown(signal())
        .await?;
    // Connections get their 1001 and `on_close` before the process ends.
    embedded.shutdown().await;
    Ok(())
}
