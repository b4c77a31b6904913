//! [`Node`]: what this node's servers share — its connections, its counters, its [`Sender`],
//! its fd allocator and its way to the other nodes.

use std::sync::Arc;

use crate::cluster::{self, Backplane};
use crate::config::Config;
use crate::fd::FdAllocator;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::ws::message::close_frame;
use crate::{BootError, Sender};

/// The state of one node, below the servers that use it: each server and observability route
/// takes the parts it needs from here.
pub(crate) struct Node {
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sender: Sender,
    pub(crate) fds: Arc<FdAllocator>,
    pub(crate) config: Arc<Config>,
    pub(crate) backplane: Arc<dyn Backplane>,
}

impl Node {
    /// Connects the backplane `config` names and builds the node around it.
    pub(crate) async fn start(config: Arc<Config>) -> Result<Self, BootError> {
        // Created before the backplane, which counts its failures in it, and the registry,
        // which counts what room pushes write.
        let metrics = Arc::new(Metrics::default());
        let registry = Arc::new(Registry::new(metrics.clone()));
        let backplane =
            cluster::connect(&config.cluster, registry.clone(), metrics.clone()).await?;
        let sender = Sender::new(registry.clone(), backplane.clone(), metrics.clone());
        let clustered = !config.cluster.url.starts_with("memory:");
        let fds = Arc::new(if clustered && backplane.node().0 == 0 {
            FdAllocator::unclaimed()
        } else {
            FdAllocator::new(backplane.node())
        });
        follow_node_id(&*backplane, fds.clone(), registry.clone());
        Ok(Self {
            fds,
            registry,
            metrics,
            sender,
            config,
            backplane,
        })
    }

    /// Whether the node takes new connections; cleared when shutdown begins.
    pub(crate) fn is_ready(&self) -> bool {
        self.metrics
            .ready
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the node ready (boot finished) or not (shutdown began).
    pub(crate) fn set_ready(&self, ready: bool) {
        self.metrics
            .ready
            .store(ready, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Keeps the fd allocator on the node id the backplane holds, and closes the connections under
/// an id the node lost: another node holds that id now, and two live nodes must never serve
/// fds under one id. Their clients reconnect and get fds under the new id.
fn follow_node_id(backplane: &dyn Backplane, fds: Arc<FdAllocator>, registry: Arc<Registry>) {
    let mut changes = backplane.node_changes();
    if changes.has_changed().is_err() {
        // A backplane whose id never changes (a single node) keeps no sender: nothing to follow,
        // and no task that would end as soon as it starts.
        return;
    }
    let mut current = *changes.borrow_and_update();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let next = *changes.borrow_and_update();
            // The allocator first, so no connection accepted from now on gets the lost id.
            fds.set_node(next);
            if current.0 != 0 && next != current {
                let lost: Vec<_> = registry
                    .fds()
                    .into_iter()
                    .filter(|fd| fd.node() == current)
                    .collect();
                tracing::warn!(node = %current, connections = lost.len(), "closing the connections under a node id this node lost (1012)");
                for fd in lost {
                    // Already closing or gone: nothing left to do for it.
                    let _ = registry.close(fd, close_frame(1012, "node id lost; reconnect"));
                }
            }
            current = next;
        }
    });
}
