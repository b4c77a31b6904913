//! Connection identifiers that are unique across a cluster.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of an [`Fd`] that hold the per-node sequence number; the bits above hold the [`NodeId`].
///
/// Sequence and node together take 53 bits, so every fd is an integer that JavaScript's `Number`
/// (and every JSON parser built on doubles) holds exactly: browser code can receive an fd and
/// send it back unchanged. 43 bits give 8.8 × 10¹² connections per node; 10 bits leave room for
/// `MAX_NODE` nodes sharing one broker.
const SEQUENCE_BITS: u32 = 43;
const SEQUENCE_MASK: u64 = (1 << SEQUENCE_BITS) - 1;
/// Bits of an fd in all: the most an IEEE-754 double holds exactly.
#[cfg(any(feature = "redis", feature = "nats"))]
const FD_BITS: u32 = 53;
/// The highest node id a cluster hands out; ids are `1..=MAX_NODE`, and 0 is the single node.
/// Only the broker backplanes claim ids.
#[cfg(any(feature = "redis", feature = "nats"))]
pub(crate) const MAX_NODE: u16 = (1 << (FD_BITS - SEQUENCE_BITS)) - 1;

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
/// The bits above the sequence name the node that holds the connection, so a [`Sender`](crate::Sender) finds
/// the owner of any fd without asking anyone. On a single node the fds are simply `1, 2, 3, …`;
/// a cluster node starts its sequence from its boot time, so a restart under the same node id
/// never hands out an fd of its previous life again.
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
    /// The fd of `node`'s connection number `sequence` (only its low 43 bits are kept).
    ///
    /// ```
    /// use ws_core::{Fd, NodeId};
    ///
    /// let fd = Fd::new(NodeId(5), 42);
    /// assert_eq!((fd.node(), fd.sequence()), (NodeId(5), 42));
    /// // Every fd of every node fits in a JavaScript number.
    /// assert!(Fd::new(NodeId(1023), u64::MAX).get() < 1 << 53);
    /// ```
    pub const fn new(node: NodeId, sequence: u64) -> Self {
        Fd(((node.0 as u64) << SEQUENCE_BITS) | (sequence & SEQUENCE_MASK))
    }

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

/// Sequence numbers a cluster node may use per millisecond since [`SEQUENCE_EPOCH_MS`] before a
/// later start of a node with the same id could meet its fds again: 10,000 new connections a
/// second, averaged over the node's whole life. 43 bits at this rate last until 2053.
const SEQUENCES_PER_MS: u64 = 10;
/// 2026-01-01T00:00:00Z, in milliseconds since the Unix epoch.
const SEQUENCE_EPOCH_MS: u64 = 1_767_225_600_000;

/// Hands out the fds of one node, in order, never twice.
///
/// A cluster node's id can change while it runs: it has none until it first claims one (the
/// broker may be down at boot), and it gets a fresh one if it lost its lease. Until it holds an
/// id its connections get *local-only* fds naming node 0, the id no broker hands out: every
/// other node answers `NotConnected` for them, so they can never be mistaken for another node's.
#[derive(Debug)]
pub(crate) struct FdAllocator {
    /// The next fd under the held node id, packed (node bits and sequence); 0 while the node
    /// holds none. Node 0's single-node fds (`1, 2, 3, …`) are held here too.
    claimed: AtomicU64,
    /// The next local-only fd (node 0) of a cluster node without an id.
    local: AtomicU64,
}

impl FdAllocator {
    /// A single node numbers its connections `1, 2, 3, …` as Hyperf does. A cluster node starts
    /// from its boot time instead: node ids are leases, and a node that restarts may get its old
    /// id back while other nodes, or the application's own records, still hold fds of its
    /// previous life. Starting above every sequence that life could have reached makes a push
    /// to one of those fds a `NotConnected` error rather than a message to a stranger.
    pub(crate) fn new(node: NodeId) -> Self {
        let first = if node.0 == 0 { 1 } else { time_floor() };
        Self::starting_at(node, first)
    }

    /// A cluster node that holds no id yet: local-only fds until [`FdAllocator::set_node`].
    /// Their sequence starts at random, so two nodes that booted without their broker are
    /// unlikely to hand out the same local-only fd (each only ever means something on its own
    /// node).
    pub(crate) fn unclaimed() -> Self {
        use std::hash::BuildHasher;
        // Random enough to keep two nodes apart, without a dependency on a random crate.
        let random = std::hash::RandomState::new().hash_one(std::time::SystemTime::now());
        Self {
            claimed: AtomicU64::new(0),
            local: AtomicU64::new(random % ((1 << (SEQUENCE_BITS - 1)) - 1) + 1),
        }
    }

    fn starting_at(node: NodeId, first: u64) -> Self {
        Self {
            claimed: AtomicU64::new(Fd::new(node, first).get()),
            local: AtomicU64::new(1),
        }
    }

    /// Switches to `node`'s fds (node 0: local-only ones), from the time floor on, so a node
    /// that gets an id back never hands out an fd that id's earlier holder may have used.
    pub(crate) fn set_node(&self, node: NodeId) {
        let next = if node.0 == 0 {
            0
        } else {
            Fd::new(node, time_floor()).get()
        };
        self.claimed.store(next, Ordering::Release);
    }

    pub(crate) fn next(&self) -> Fd {
        // One atomic step on the packed value, so an fd never pairs one id with a sequence
        // meant for another. 43 bits of sequence do not overflow into the node bits in any
        // node's life (see `SEQUENCES_PER_MS`).
        let held = self
            .claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| {
                (next != 0).then(|| next + 1)
            });
        match held {
            Ok(next) => Fd(next),
            Err(_) => Fd(self.local.fetch_add(1, Ordering::Relaxed) & SEQUENCE_MASK),
        }
    }
}

/// The first sequence of a cluster node's fds under an id it just got: above any sequence an
/// earlier holder of the id could have reached.
fn time_floor() -> u64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    (now_ms.saturating_sub(SEQUENCE_EPOCH_MS) * SEQUENCES_PER_MS).clamp(1, SEQUENCE_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds_carry_their_node() {
        let alloc = FdAllocator::starting_at(NodeId(3), 1);
        let a = alloc.next();
        let b = alloc.next();
        assert_ne!(a, b);
        assert_eq!(a.node(), NodeId(3));
        assert_eq!(a.sequence(), 1);
        assert_eq!(b.sequence(), 2);
    }

    #[test]
    fn a_single_node_counts_from_one() {
        assert_eq!(FdAllocator::new(NodeId(0)).next(), Fd(1));
    }

    #[test]
    fn a_restarted_cluster_node_starts_past_its_previous_life() {
        let before = FdAllocator::new(NodeId(7));
        // Its first life hands out a burst of fds, far faster than the floor rises.
        let last = (0..1_000).map(|_| before.next()).last().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after = FdAllocator::new(NodeId(7)).next();
        assert_eq!(after.node(), NodeId(7));
        assert!(
            after > last,
            "{after:?} must not fall among {last:?} and before"
        );
    }

    #[test]
    fn an_unclaimed_node_hands_out_local_only_fds_until_it_holds_an_id() {
        let alloc = FdAllocator::unclaimed();
        let early = alloc.next();
        assert_eq!(early.node(), NodeId(0));
        alloc.set_node(NodeId(9));
        let joined = alloc.next();
        assert_eq!(joined.node(), NodeId(9));
        assert!(joined.get() < 1 << 53);
        // Lost its id: local-only again, never repeating one it handed out before.
        alloc.set_node(NodeId(0));
        let again = alloc.next();
        assert_eq!(again.node(), NodeId(0));
        assert!(again > early);
    }
}
