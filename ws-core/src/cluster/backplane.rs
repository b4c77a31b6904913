//! The [`Backplane`] trait: what the rest of the node asks of the cluster.

use futures_util::future::BoxFuture;

use super::command::{Command, Reply};
use crate::{Fd, NodeId, SendError};

/// A way for nodes to reach each other. Implementations: in-process (single node), Redis
/// pub/sub, NATS.
pub(crate) trait Backplane: Send + Sync + 'static {
    /// This node's id, unique among the live nodes sharing the broker; 0 while a cluster node
    /// holds none (its broker was down since boot, or it lost its lease and claims a new one).
    fn node(&self) -> NodeId;
    /// Every change of [`Backplane::node`], starting with the current id. The single node's
    /// never changes.
    fn node_changes(&self) -> tokio::sync::watch::Receiver<NodeId>;
    /// Sends `command` to `node` and waits (bounded by `request_timeout_ms`) for its reply. A node
    /// whose lease is gone answers as an empty node would
    /// ([`dead_reply`](super::command::dead_reply)) without being asked.
    fn request(&self, node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>>;
    /// Sends `command` to every other node, without waiting for replies. Returns once the command
    /// is queued for the broker, never waiting on the broker itself.
    fn publish(&self, command: Command) -> BoxFuture<'_, Result<(), SendError>>;
    /// The nodes whose lease is alive, this one included.
    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<NodeId>, SendError>>;
    /// Whether the broker is connected, subscriptions are in place and the lease is held.
    fn is_ready(&self) -> bool;
    /// Why the backplane is not ready (the broker's last failure, a refusal of this node's
    /// credentials), for `/ready`; `None` while it is.
    fn not_ready_reason(&self) -> Option<String> {
        None
    }
    /// Stops background tasks and removes this node's state from the broker.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// The members of `room` on every live node but this one, asked concurrently.
pub(crate) async fn remote_room_members(
    backplane: &dyn Backplane,
    room: &str,
) -> Result<Vec<Fd>, SendError> {
    let me = backplane.node();
    let nodes = backplane.live_nodes().await?;
    let asks = nodes.into_iter().filter(|node| *node != me).map(|node| {
        backplane.request(
            node,
            Command::RoomMembers {
                room: room.to_string(),
            },
        )
    });
    let mut members = Vec::new();
    for reply in futures_util::future::join_all(asks).await {
        if let Reply::Members(fds) = reply? {
            members.extend(fds);
        }
    }
    Ok(members)
}
