//! The single-node backplane.

use futures_util::future::{BoxFuture, FutureExt};

use super::backplane::Backplane;
use super::command::{Command, Reply, dead_reply};
use crate::{NodeId, SendError};

/// The single-node backplane: there are no other nodes, so every remote fd is unknown.
#[derive(Debug)]
pub(crate) struct MemoryBackplane;

impl Backplane for MemoryBackplane {
    fn node(&self) -> NodeId {
        NodeId(0)
    }

    fn node_changes(&self) -> tokio::sync::watch::Receiver<NodeId> {
        tokio::sync::watch::channel(NodeId(0)).1
    }

    fn request(&self, _node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>> {
        let reply = dead_reply(&command);
        async move { Ok(reply) }.boxed()
    }

    fn publish(&self, _command: Command) -> BoxFuture<'_, Result<(), SendError>> {
        async { Ok(()) }.boxed()
    }

    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<NodeId>, SendError>> {
        async { Ok(vec![NodeId(0)]) }.boxed()
    }

    fn is_ready(&self) -> bool {
        true
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async {}.boxed()
    }
}
