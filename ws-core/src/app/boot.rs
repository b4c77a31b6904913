//! [`App::start`]: the node, the route tables, every server bound and spawned.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{App, RunningApp};
use crate::BootError;
use crate::config::{Config, ServerKind};
use crate::di::Container;
use crate::http::layer::ServerLayers;
use crate::node::Node;
use crate::router::Tables;
use crate::server;
use crate::socketio::recovery::Recovery;

/// The servers one [`Prepared::serve`] bound, and how to stop them.
pub(super) struct Served {
    pub(super) addrs: Vec<(String, ServerKind, std::net::SocketAddr)>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) stopping: watch::Receiver<bool>,
    pub(super) tasks: JoinSet<()>,
}

impl Served {
    pub(super) fn into_running(self, node: Arc<Node>) -> RunningApp {
        RunningApp::new(node, self.addrs, self.shutdown, self.tasks)
    }
}

/// An app booted up to its servers: the node, the checked route tables, the layers.
pub(super) struct Prepared {
    pub(super) config: Arc<Config>,
    pub(super) node: Arc<Node>,
    pub(super) tables: Tables,
    pub(super) layers: ServerLayers,
}

impl App {
    /// Boots every configured server and returns once all are listening.
    pub async fn start(self) -> Result<RunningApp, BootError> {
        let mut prepared = self.prepare().await?;
        let served = prepared.serve(|_| true)?;
        prepared.node.set_ready(true);
        Ok(served.into_running(prepared.node))
    }

    /// Reads the config, starts the node, builds the DI container and the route tables.
    pub(super) async fn prepare(self) -> Result<Prepared, BootError> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load_with_fallback(None, self.fallback_config_dir.as_deref())?,
        };
        let config = Arc::new(config);
        // Every connection holds a descriptor, and distributions default the soft limit to
        // 1,024, far below `max_connections`; the hard limit is as far as a process may raise
        // it itself. Failing to raise it is not fatal: accepts then fail one by one, logged.
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => tracing::debug!(limit, "open file limit"),
            Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
        }
        self.layers.check(&config)?;
        let node = Arc::new(Node::start(config.clone()).await?);

        let mut container = Container::new(node.sender.clone(), config.clone(), self.provided);
        // Before the controllers: an injected `SocketIo` records what it emits for recovery.
        let recovery = Arc::new(Recovery::open(&config)?);
        container.provide(recovery.clone());
        let mut routes = self.routes;
        routes.extend(super::routes::build_registered(&mut container)?);
        routes.extend(super::socketio::build_routes(
            &config,
            &mut container,
            &recovery,
        )?);
        if config.metrics.enabled {
            crate::observe::add_routes(&mut routes, &config, &node);
        }
        let tables = Tables::build(&config, routes)?;
        Ok(Prepared {
            config,
            node,
            tables,
            layers: self.layers,
        })
    }
}

impl Prepared {
    /// Binds and spawns the servers `bound` selects; the node is ready once they listen.
    pub(super) fn serve(
        &mut self,
        bound: impl Fn(ServerKind) -> bool,
    ) -> Result<Served, BootError> {
        let (shutdown, stopping) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let servers: Vec<_> = self
            .config
            .servers
            .iter()
            .filter(|s| bound(s.kind))
            .collect();
        // Every port is bound before any server starts, so a busy port fails the boot whole.
        let listeners = servers
            .iter()
            .map(|s| server::bind(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut addrs = Vec::new();
        for (server, listener) in servers.into_iter().zip(listeners) {
            let addr = server::spawn(
                server,
                listener,
                self.tables.take(&server.name),
                self.layers.take(&server.name),
                &self.node,
                &mut tasks,
                &stopping,
            )?;
            tracing::info!(
                "{} Server listening at {}:{}",
                server.kind.label(),
                server.host,
                addr.port()
            );
            addrs.push((server.name.clone(), server.kind, addr));
        }
        Ok(Served {
            addrs,
            shutdown,
            stopping,
            tasks,
        })
    }
}
