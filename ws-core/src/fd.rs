//! Connection identifiers that are unique across a cluster.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of an [`Fd`] that hold the per-node sequence number; the bits above hold the [`NodeId`].
///
/// 48 bits give 2.8 × 10¹⁴ connections per node lifetime, so a sequence never wraps, and 16 bits
/// leave room for 65,535 nodes sharing one broker.
const SEQUENCE_BITS: u32 = 48;
const SEQUENCE_MASK: u64 = (1 << SEQUENCE_BITS) - 1;

/// Identifier of a node in a cluster. Node `0` is the single-node (in-process) default.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u16);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A connection's identifier: Hyperf's `$fd`, but unique across the whole cluster and never reused
/// while a node lives.
///
/// The high 16 bits name the node that holds the connection, so a [`Sender`](crate::Sender) finds
/// the owner of any fd without asking anyone. On a single node the fds are simply `1, 2, 3, …`.
///
/// ```
/// use ws_core::{Fd, NodeId};
///
/// let fd: Fd = "7".parse().unwrap();
/// assert_eq!(fd.node(), NodeId(0));
/// assert_eq!(fd.to_string(), "7");
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fd(pub u64);

impl Fd {
    /// The node that holds this connection.
    pub const fn node(self) -> NodeId {
        NodeId((self.0 >> SEQUENCE_BITS) as u16)
    }

    /// The per-node sequence part of this fd.
    pub const fn sequence(self) -> u64 {
        self.0 & SEQUENCE_MASK
    }

    /// The fd as a plain integer.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Fd {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Fd)
    }
}

impl From<u64> for Fd {
    fn from(value: u64) -> Self {
        Fd(value)
    }
}

/// Hands out the fds of one node, in order, never twice.
#[derive(Debug)]
pub(crate) struct FdAllocator {
    node: u64,
    next: AtomicU64,
}

impl FdAllocator {
    pub(crate) fn new(node: NodeId) -> Self {
        Self {
            node: u64::from(node.0) << SEQUENCE_BITS,
            next: AtomicU64::new(1),
        }
    }

    pub(crate) fn next(&self) -> Fd {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed) & SEQUENCE_MASK;
        Fd(self.node | sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds_carry_their_node() {
        let alloc = FdAllocator::new(NodeId(3));
        let a = alloc.next();
        let b = alloc.next();
        assert_ne!(a, b);
        assert_eq!(a.node(), NodeId(3));
        assert_eq!(a.sequence(), 1);
        assert_eq!(b.sequence(), 2);
    }
}
