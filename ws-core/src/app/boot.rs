//! [`App::start`]: the node, the route tables, every server bound and spawned.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{App, RunningApp};
use crate::BootError;
use crate::config::Config;
use crate::di::Container;
use crate::node::Node;
use crate::router::Tables;
use crate::server;

impl App {
    /// Boots every configured server and returns once all are listening.
    pub async fn start(self) -> Result<RunningApp, BootError> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load(None)?,
        };
        let config = Arc::new(config);
        // Every connection holds a descriptor, and distributions default the soft limit to
        // 1,024, far below `max_connections`; the hard limit is as far as a process may raise
        // it itself. Failing to raise it is not fatal: accepts then fail one by one, logged.
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => tracing::debug!(limit, "open file limit"),
            Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
        }
        let node = Arc::new(Node::start(config.clone()).await?);

        let mut container = Container::new(node.sender.clone(), config.clone(), self.provided);
        let mut routes = self.routes;
        routes.extend(super::routes::build_registered(&mut container)?);
        routes.extend(super::socketio::build_routes(&config, &mut container)?);
        if config.metrics.enabled {
            crate::observe::add_routes(&mut routes, &config, &node);
        }
        let mut tables = Tables::build(&config, routes)?;

        // Every port is bound before any server starts, so a busy port fails the boot whole.
        let listeners = config
            .servers
            .iter()
            .map(server::bind)
            .collect::<Result<Vec<_>, _>>()?;
        let (shutdown, stopping) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for (server, listener) in config.servers.iter().zip(listeners) {
            let addr = server::spawn(
                server,
                listener,
                tables.take(&server.name),
                &node,
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
        node.set_ready(true);
        Ok(RunningApp::new(node, addrs, shutdown, tasks))
    }
}
