use futures_util::future::{BoxFuture, FutureExt};

use super::{Backplane, Command, Reply};
use crate::{Fd, NodeId, SendError};

/// The single-node backplane: there are no other nodes, so every remote fd is unknown.
#[derive(Debug)]
pub(crate) struct MemoryBackplane;

impl Backplane for MemoryBackplane {
    fn node(&self) -> NodeId {
        NodeId(0)
    }

    fn request(&self, _node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>> {
        let reply = match command {
            Command::Push { fd, .. } | Command::Disconnect { fd, .. } => {
                Reply::Failed(SendError::NotConnected(fd))
            }
            Command::Exists { .. } => Reply::Exists(false),
            Command::Broadcast { .. } | Command::RoomPush { .. } => Reply::Delivered(0),
        };
        async move { Ok(reply) }.boxed()
    }

    fn publish(&self, _command: Command) -> BoxFuture<'_, Result<(), SendError>> {
        async { Ok(()) }.boxed()
    }

    fn room_members(&self, _room: &str) -> BoxFuture<'_, Result<Vec<Fd>, SendError>> {
        async { Ok(Vec::new()) }.boxed()
    }

    fn record_membership(
        &self,
        _room: &str,
        _fd: Fd,
        _joined: bool,
    ) -> BoxFuture<'_, Result<(), SendError>> {
        async { Ok(()) }.boxed()
    }

    fn is_ready(&self) -> bool {
        true
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async {}.boxed()
    }
}
