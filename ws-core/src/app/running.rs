//! [`RunningApp`]: a booted app's addresses, and its graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Sender;
use crate::config::{Config, ServerKind};
use crate::node::Node;
use crate::ws::message::close_frame;

/// A booted app. Dropping it does not stop the servers; call [`RunningApp::shutdown`].
pub struct RunningApp {
    node: Arc<Node>,
    addrs: Vec<(String, ServerKind, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl RunningApp {
    pub(super) fn new(
        node: Arc<Node>,
        addrs: Vec<(String, ServerKind, SocketAddr)>,
        shutdown: watch::Sender<bool>,
        tasks: JoinSet<()>,
    ) -> Self {
        Self {
            node,
            addrs,
            shutdown,
            tasks,
        }
    }

    /// The bound address of server `name` (useful with port 0).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, a)| *a)
    }

    /// The app's [`Sender`].
    pub fn sender(&self) -> Sender {
        self.node.sender.clone()
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.node.config
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Stops accepting, closes every connection with 1001, waits (bounded by
    /// `runtime.drain_timeout_ms`) for their closing handshakes and `on_close` callbacks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.node.set_ready(false);
        self.node
            .registry
            .close_all(&close_frame(1001, "server shutting down"));
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.node.config.runtime.drain_timeout_ms);
        let live = || {
            self.node
                .metrics
                .live_connections
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        while live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = live();
        if left > 0 {
            tracing::warn!(
                connections = left,
                "drain timeout reached; dropping the remaining connections"
            );
        }
        self.node.backplane.shutdown().await;
        self.tasks.shutdown().await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
