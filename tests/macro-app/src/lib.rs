//! An app written in macro mode: WebSocket and HTTP controllers in several modules (one nested),
//! components injected into controllers, `#[value]` fields, and a config-mode route next to the
//! macro ones. `tests/` boots it in-process and drives it with real clients.

pub mod admin;
pub mod chat;
pub mod server;
pub mod services;

use ws_core::http::HttpRequest;
use ws_core::{App, WebSocketHandler};

/// The config the tests boot with (every port is replaced by a free one).
pub const CONFIG: &str = include_str!("../config/server.toml");

/// Config-mode routes, Hyperf's `Router::addServer`, mixed with the macro-registered ones.
pub fn routes(app: &mut App) {
    app.router("http")
        .get("/config/ping", |_req: HttpRequest| async { "pong" });
    app.router("ws").ws("/config/silent", Silent);
}

/// A config-mode WebSocket controller that does nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl WebSocketHandler for Silent {}
