//! [`App::start_embedded`]: the framework inside another HTTP server (axum, hyper), its
//! WebSocket servers mounted as tower services instead of bound to their own ports.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{App, RunningApp};
use crate::config::{Config, ServerKind};
use crate::server::{self, WsService};
use crate::{BootError, Sender};

/// A booted app whose WebSocket servers are not bound: each is a [`WsService`] to mount in
/// another HTTP server. Its HTTP servers run as configured (so `#[controller]` routes and
/// `/metrics` keep their ports); an embedding app whose config names only WebSocket servers
/// binds nothing of its own.
///
/// Dropping it does not stop anything; call [`EmbeddedApp::shutdown`], which closes every
/// connection with 1001 and waits for the drain as [`RunningApp::shutdown`] does.
///
/// ```no_run
/// # async fn demo() -> Result<(), ws_core::BootError> {
/// let embedded = ws_core::App::new().start_embedded().await?;
/// let ws = embedded.ws_service("ws").expect("a `ws` server in config/server.toml");
/// let sender = embedded.sender();
/// // axum::Router::new().route_service("/ws", ws).with_state(sender) ...
/// embedded.shutdown().await;
/// # Ok(()) }
/// ```
pub struct EmbeddedApp {
    running: RunningApp,
    ws: Vec<(String, WsService)>,
}

impl std::fmt::Debug for EmbeddedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedApp")
            .field("running", &self.running)
            .field("ws", &self.ws.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl App {
    /// Boots the registry, the cluster backplane, dependency injection and every controller
    /// like [`App::start`], without binding the WebSocket servers' ports: mount
    /// [`EmbeddedApp::ws_service`] in your own HTTP server instead. HTTP servers of the config
    /// are bound and served as usual.
    pub async fn start_embedded(self) -> Result<EmbeddedApp, BootError> {
        let mut prepared = self.prepare().await?;
        let mut served = prepared.serve(|kind| kind == ServerKind::Http)?;
        let mut ws = Vec::new();
        for config in &prepared.config.servers {
            if config.kind != ServerKind::Websocket {
                continue;
            }
            let (table, _) = prepared.tables.take(&config.name);
            let built = server::ws_server(
                config,
                table,
                &prepared.node,
                &mut served.tasks,
                &served.stopping,
            );
            ws.push((config.name.clone(), WsService::new(Arc::new(built))));
            tracing::info!(server = %config.name, "WebSocket server mounted (no port of its own)");
        }
        prepared.node.set_ready(true);
        Ok(EmbeddedApp {
            running: served.into_running(prepared.node),
            ws,
        })
    }
}

impl EmbeddedApp {
    /// The controllers of WebSocket server `name` as a tower service, or `None` when the config
    /// has no WebSocket server of that name. Cheap to call and to clone.
    pub fn ws_service(&self, name: &str) -> Option<WsService> {
        self.ws
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, service)| service.clone())
    }

    /// The app's [`Sender`]: push to or disconnect any connection, from any handler.
    pub fn sender(&self) -> Sender {
        self.running.sender()
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        self.running.config()
    }

    /// The bound address of HTTP server `name`; `None` for a mounted WebSocket server.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.running.addr(name)
    }

    /// Closes every connection with 1001, waits (bounded by `runtime.drain_timeout_ms`) for
    /// their `on_close`, stops the HTTP servers and the backplane.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
