//! The cluster backplane: how a [`Sender`](crate::Sender) reaches connections held by other nodes.
//!
//! Every fd names its node, so a push to a remote fd is one message to that node's own channel
//! (`{prefix}.node.{id}`), not a fan-out to every node as Hyperf's pipe messages are. Cluster-wide
//! operations (broadcast, room pushes) are one message on the shared channel `{prefix}.all`.
//!
//! **Node ids** are claimed in the broker under a lease the node renews every `lease_ms / 3`:
//! Redis `SET {prefix}:node:{id} TOKEN NX PX lease`, NATS a JetStream KV `create` in a bucket
//! whose `max_age` is the lease. Both are atomic, so nodes starting at the same moment never get
//! the same id; a crashed node's id expires by itself. Candidates are tried from a random start so
//! a restarted cluster does not hand yesterday's ids (and so yesterday's fds) straight back.
//!
//! **Rooms** live where their connections live: in each node's registry. Joining touches no
//! broker (so a slow broker never stalls `on_open`), a closed connection leaves its rooms at once,
//! and a dead node's members vanish with it — there is nothing in the broker to go stale. Listing
//! a room asks each live node (known from the leases) for its members.
//!
//! **Delivery** across nodes is at-most-once: a request in flight when a broker connection drops
//! is lost and its caller gets [`SendError::BrokerUnavailable`] or [`SendError::Timeout`]; nothing
//! is retried, so nothing is delivered twice. Pushes from one node to one connection keep their
//! order: they leave through one broker connection and are applied in arrival order; and a
//! `push` returns only after the owning node applied it, so sequential calls are ordered too.
//!
//! **Faults**: while the broker is away every remote call fails at once with
//! [`SendError::BrokerUnavailable`] (the backplane tracks its connection state instead of waiting
//! for a timeout), local delivery goes on, and the node reconnects with exponential backoff
//! (capped at 2 s), re-subscribes and re-asserts its lease before it reports ready again.

mod command;
mod memory;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "redis")]
mod redis;
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
mod wire;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use command::{Command, Reply};
pub(crate) use memory::MemoryBackplane;

use crate::fd::MAX_NODE;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::{Fd, NodeId, SendError};

/// A way for nodes to reach each other. Implementations: in-process (single node), Redis
/// pub/sub, NATS.
pub(crate) trait Backplane: Send + Sync + 'static {
    /// This node's id, unique among the live nodes sharing the broker.
    fn node(&self) -> NodeId;
    /// Sends `command` to `node` and waits (bounded by `request_timeout_ms`) for its reply. A node
    /// whose lease is gone answers as an empty node would ([`dead_reply`]) without being asked.
    fn request(&self, node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>>;
    /// Sends `command` to every other node, without waiting for replies. Returns once the command
    /// is queued for the broker, never waiting on the broker itself.
    fn publish(&self, command: Command) -> BoxFuture<'_, Result<(), SendError>>;
    /// The nodes whose lease is alive, this one included.
    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<NodeId>, SendError>>;
    /// Whether the broker is connected, subscriptions are in place and the lease is held.
    fn is_ready(&self) -> bool;
    /// Stops background tasks and removes this node's state from the broker.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Applies commands that arrive from other nodes to this node's connections.
#[derive(Debug, Clone)]
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) struct LocalNode {
    pub(crate) registry: Arc<Registry>,
    /// Where backplane failures are counted (`ws_backplane_errors_total`).
    pub(crate) metrics: Arc<Metrics>,
}

#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
impl LocalNode {
    pub(crate) fn apply(&self, command: Command) -> Reply {
        match command {
            Command::Push { fd, message } => Reply::from(self.registry.push(fd, message)),
            Command::Disconnect { fd, code, reason } => Reply::from(
                self.registry
                    .close(fd, crate::ws::message::close_frame(code, &reason)),
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
            Command::RoomMembers { room } => Reply::Members(self.registry.room_members(&room)),
        }
    }

    /// Counts a failed backplane operation; failures are typed results, not log lines.
    #[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
    pub(crate) fn count_error(&self) {
        self.metrics
            .backplane_errors
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `result` if it is a broker-side failure (a gone fd is a normal answer).
    #[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
    pub(crate) fn counted<T>(&self, result: Result<T, SendError>) -> Result<T, SendError> {
        if matches!(
            result,
            Err(SendError::BrokerUnavailable(_) | SendError::Timeout { .. })
        ) {
            self.count_error();
        }
        result
    }
}

/// What a node that holds no connections answers: the reply for a node known to be dead.
pub(crate) fn dead_reply(command: &Command) -> Reply {
    match command {
        Command::Push { fd, .. } | Command::Disconnect { fd, .. } => {
            Reply::Failed(SendError::NotConnected(*fd))
        }
        Command::Exists { .. } => Reply::Exists(false),
        Command::Broadcast { .. } | Command::RoomPush { .. } => Reply::Delivered(0),
        Command::RoomMembers { .. } => Reply::Members(Vec::new()),
    }
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

/// Connects the backplane named by `[cluster] url`.
pub(crate) async fn connect(
    config: &crate::config::ClusterConfig,
    local: LocalNode,
) -> Result<Arc<dyn Backplane>, crate::BootError> {
    let scheme = config.url.split("://").next().unwrap_or_default();
    match scheme {
        "memory" => Ok(Arc::new(MemoryBackplane)),
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Arc::new(
            redis::RedisBackplane::connect(config, local).await?,
        )),
        #[cfg(feature = "nats")]
        "nats" => Ok(Arc::new(nats::NatsBackplane::connect(config, local).await?)),
        other => {
            let _ = local;
            Err(crate::BootError::Cluster(format!(
                "backplane `{other}://` is not available in this build"
            )))
        }
    }
}

/// Resolves once `stop` says so, or its sender is gone (which also means stop).
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// How long boot keeps trying to reach the broker before it gives up with one clear error.
/// Long enough for a broker started alongside the app (compose, a CI job) to come up.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) const BOOT_WINDOW: Duration = Duration::from_secs(10);

/// Exponential reconnect delays: 100 ms doubling to a 2 s cap, with up to 25 % jitter so nodes
/// that lost the broker together do not reconnect in lockstep.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) struct Backoff {
    attempt: u32,
}

#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
impl Backoff {
    pub(crate) const FIRST: Duration = Duration::from_millis(100);
    pub(crate) const CAP: Duration = Duration::from_secs(2);

    pub(crate) fn new() -> Self {
        Self { attempt: 0 }
    }

    // Only the Redis supervisor runs its own reconnect loop; NATS's client has one.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = Self::delay(self.attempt as usize);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// The delay before reconnect attempt `attempt` (0-based).
    pub(crate) fn delay(attempt: usize) -> Duration {
        let exp = u32::try_from(attempt.min(16)).unwrap_or(16);
        let base = Self::FIRST.saturating_mul(1 << exp).min(Self::CAP);
        let jitter = base.mul_f64((random_u64() % 1000) as f64 / 4000.0);
        (base + jitter).min(Self::CAP)
    }
}

/// A random number without a `rand` dependency: std's per-process random SipHash keys, mixed
/// with the time and a counter. Good enough for node-id start points, lease tokens and jitter.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A lease token: tells this process's claim on a node id apart from any other's.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) fn lease_token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// A random first candidate in `1..=MAX_NODE`; node 0 is the single-node default and never
/// claimed.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) fn random_start() -> u16 {
    // The remainder is below `MAX_NODE`, a `u16`.
    (random_u64() % u64::from(MAX_NODE)) as u16 + 1
}

/// How often a lease is renewed: three renewals fit in one lease, so one lost renewal (a GC
/// pause, a slow broker) does not lose the node id.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) fn renew_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(50))
}

/// `url` with any password replaced, for log lines and errors.
#[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
pub(crate) fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut backoff = Backoff::new();
        let first = backoff.next_delay();
        assert!(
            first >= Backoff::FIRST && first <= Backoff::FIRST.mul_f64(1.25),
            "{first:?}"
        );
        for _ in 0..20 {
            assert!(backoff.next_delay() <= Backoff::CAP);
        }
        assert!(Backoff::delay(10) >= Duration::from_millis(1500));
        backoff.reset();
        assert!(backoff.next_delay() < Duration::from_millis(200));
    }

    #[test]
    fn random_starts_are_valid_node_ids() {
        for _ in 0..1000 {
            assert!((1..=MAX_NODE).contains(&random_start()));
        }
        assert_ne!(lease_token(), lease_token());
    }
}
