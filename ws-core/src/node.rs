//! [`Node`]: what this node's servers share — its connections, its counters, its [`Sender`],
//! its fd allocator and its way to the other nodes.

use std::sync::Arc;

use crate::cluster::{self, Backplane};
use crate::config::Config;
use crate::fd::FdAllocator;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::{BootError, Sender};

/// The state of one node, below the servers that use it: each server and observability route
/// takes the parts it needs from here.
pub(crate) struct Node {
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sender: Sender,
    pub(crate) fds: FdAllocator,
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
        Ok(Self {
            fds: FdAllocator::new(backplane.node()),
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
