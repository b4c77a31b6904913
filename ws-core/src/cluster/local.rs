//! How commands from other nodes reach this node's connections.
//!
//! The cluster sits below the node's own state in the layering: it cannot name the registry
//! that holds the connections, so the registry implements [`LocalDelivery`] and the backplane
//! holds it as a trait object.

use super::command::{Command, Reply};

/// Applies a command from another node to this node's connections. Implemented by the
/// registry; called from a broker's read loop, so it must never wait (it only queues into
/// outboxes).
pub(crate) trait LocalDelivery: Send + Sync + 'static {
    /// Applies `command` and says what happened.
    #[cfg_attr(
        not(any(feature = "redis", feature = "nats")),
        expect(dead_code, reason = "only a broker backplane receives commands")
    )]
    fn apply(&self, command: Command) -> Reply;
}

/// What a broker backplane needs of its own node: where commands go, and where its failures
/// are counted (`ws_backplane_errors_total`).
#[cfg(any(feature = "redis", feature = "nats"))]
#[derive(Clone)]
pub(crate) struct LocalNode {
    delivery: std::sync::Arc<dyn LocalDelivery>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

#[cfg(any(feature = "redis", feature = "nats"))]
impl LocalNode {
    pub(crate) fn new(
        delivery: std::sync::Arc<dyn LocalDelivery>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self { delivery, metrics }
    }

    /// Applies a command from another node to this node's connections.
    pub(crate) fn apply(&self, command: Command) -> Reply {
        self.delivery.apply(command)
    }

    /// Counts a failed backplane operation; failures are typed results, not log lines.
    pub(crate) fn count_error(&self) {
        self.metrics
            .backplane_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts `result` if it is a broker-side failure (a gone fd is a normal answer).
    pub(crate) fn counted<T>(
        &self,
        result: Result<T, crate::SendError>,
    ) -> Result<T, crate::SendError> {
        use crate::SendError;
        if matches!(
            result,
            Err(SendError::BrokerUnavailable(_) | SendError::Timeout { .. })
        ) {
            self.count_error();
        }
        result
    }
}
