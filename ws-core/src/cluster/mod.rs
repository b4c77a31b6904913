//! The cluster backplane: how a [`Sender`](crate::Sender) reaches connections held by other nodes.
//!
//! Every fd names its node, so a push to a remote fd is one message to that node's own channel,
//! not a fan-out to every node as Hyperf's pipe messages are. Cluster-wide operations (broadcast,
//! room pushes) use one shared channel. Delivery across nodes is at-most-once; pushes to one
//! connection stay in order.

mod command;
mod memory;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub use command::{Command, Reply};
pub(crate) use memory::MemoryBackplane;

use crate::registry::Registry;
use crate::{NodeId, SendError};

/// A way for nodes to reach each other. Implementations: in-process (single node), Redis
/// pub/sub, NATS.
pub(crate) trait Backplane: Send + Sync + 'static {
    /// This node's id, unique among the live nodes sharing the broker.
    fn node(&self) -> NodeId;
    /// Sends `command` to `node` and waits (bounded) for its reply.
    fn request(&self, node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>>;
    /// Sends `command` to every other node, without waiting for replies.
    fn publish(&self, command: Command) -> BoxFuture<'_, Result<(), SendError>>;
    /// Every member of `room` across the cluster.
    fn room_members(&self, room: &str) -> BoxFuture<'_, Result<Vec<crate::Fd>, SendError>>;
    /// Records, under this node's lease, that `fd` joined (`true`) or left `room`.
    fn record_membership(
        &self,
        room: &str,
        fd: crate::Fd,
        joined: bool,
    ) -> BoxFuture<'_, Result<(), SendError>>;
    /// Whether the broker is connected and subscriptions are in place.
    fn is_ready(&self) -> bool;
    /// Stops background tasks and removes this node's state from the broker.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Applies commands that arrive from other nodes to this node's connections.
#[derive(Debug, Clone)]
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) struct LocalNode {
    pub(crate) registry: Arc<Registry>,
}

impl LocalNode {
    pub(crate) fn apply(&self, command: Command) -> Reply {
        match command {
            Command::Push { fd, message } => Reply::from(self.registry.push(fd, message)),
            Command::Disconnect { fd, code, reason } => Reply::from(
                self.registry
                    .close(fd, crate::message::close_frame(code, &reason)),
            ),
            Command::Exists { fd } => Reply::Exists(self.registry.contains(fd)),
            Command::Broadcast { message, except } => {
                Reply::Delivered(self.registry.broadcast(&message, except).local)
            }
            Command::RoomPush {
                room,
                message,
                except,
            } => Reply::Delivered(self.registry.push_room(&room, &message, except).local),
        }
    }
}

/// Connects the backplane named by `[cluster] url`.
pub(crate) async fn connect(
    config: &crate::config::ClusterConfig,
    local: LocalNode,
) -> Result<Arc<dyn Backplane>, crate::BootError> {
    let _ = &local;
    let scheme = config.url.split("://").next().unwrap_or_default();
    match scheme {
        "memory" => Ok(Arc::new(MemoryBackplane)),
        other => Err(crate::BootError::Cluster(format!(
            "backplane `{other}://` is not available in this build"
        ))),
    }
}
