//! Node-id leases: the tokens, candidates and timing both brokers share. Claiming, renewing and
//! releasing are each broker's own primitive (Redis `SET NX PX`, a NATS KV `create`); when they
//! run is the supervisor's.

use std::time::Duration;

use bytes::Bytes;

use crate::config::ClusterConfig;
use crate::fd::MAX_NODE;

/// Below this a lease cannot be renewed reliably over a real network.
const SHORTEST: Duration = Duration::from_millis(100);

/// The lease of `[cluster] lease_ms`, at least [`SHORTEST`].
pub(super) fn length(config: &ClusterConfig) -> Duration {
    Duration::from_millis(config.lease_ms).max(SHORTEST)
}

/// How often a lease is renewed: three renewals fit in one lease, so one lost renewal (a GC
/// pause, a slow broker) does not lose the node id.
pub(super) fn renew_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(50))
}

/// A lease token: tells this process's claim on a node id apart from any other's.
pub(super) fn token() -> Bytes {
    Bytes::from(format!(
        "{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    ))
}

/// A random first candidate in `1..=MAX_NODE`, so a restarted cluster does not hand yesterday's
/// ids (and so yesterday's fds) straight back. Node 0 is the single-node default and never
/// claimed.
pub(super) fn random_start() -> u16 {
    fastrand::u16(1..=MAX_NODE)
}

/// Every claimable id once, from `start` on and wrapping around.
#[cfg(feature = "nats")]
pub(super) fn candidates(start: u16) -> impl Iterator<Item = crate::NodeId> {
    let max = u32::from(MAX_NODE);
    (0..max).map(move |i| {
        // Below `max + 1`, which fits a `u16`.
        crate::NodeId(((u32::from(start).max(1) - 1 + i) % max + 1) as u16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_starts_are_valid_node_ids() {
        for _ in 0..1000 {
            assert!((1..=MAX_NODE).contains(&random_start()));
        }
        assert_ne!(token(), token());
        assert_eq!(token().len(), 32);
    }

    #[test]
    fn leases_renew_three_times_and_have_a_floor() {
        let config = |lease_ms| ClusterConfig {
            lease_ms,
            ..ClusterConfig::default()
        };
        assert_eq!(length(&config(5_000)), Duration::from_secs(5));
        assert_eq!(length(&config(1)), SHORTEST);
        assert_eq!(renew_every(Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(renew_every(SHORTEST), Duration::from_millis(50));
    }

    #[cfg(feature = "nats")]
    #[test]
    fn candidates_cover_every_id_once() {
        let ids: Vec<_> = candidates(MAX_NODE).collect();
        assert_eq!(ids.len(), usize::from(MAX_NODE));
        assert_eq!(ids[0], crate::NodeId(MAX_NODE));
        assert_eq!(ids[1], crate::NodeId(1));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }
}
