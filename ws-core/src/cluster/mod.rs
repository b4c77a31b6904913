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
//! (capped at 2 s), re-subscribes and re-asserts its lease before it reports ready again. A
//! broker down at boot is the same fault from the start: the node serves its own connections
//! under local-only fds (node 0, which no broker hands out) and claims its id once the broker is
//! up, unless `[cluster] required_at_boot` asks boot to fail instead. A node that finds its id
//! taken (it was paused longer than its lease) forgets it: its connections under that id are
//! closed and it claims a fresh one; past its lease by its own clock it answers no request
//! under the id meanwhile.
//!
//! **Layout**: [`backplane`] is the trait the node uses, [`memory`] the single-node one, and
//! [`local`] how commands from other nodes reach this node's connections (the registry
//! implements [`LocalDelivery`]; the cluster does not know it). The brokers share everything
//! but their client: `broker` is what a broker implements, `supervise` the skeleton around it
//! (boot, reconnect loop, readiness, counted calls), `lease` and `backoff` its timing, `wire`
//! the frames, `tls` the broker connection's TLS material; `redis/` and `nats/` hold only each
//! broker's connection (credentials and TLS included), pub/sub and lease primitive.
//!
//! **Secured brokers**: credentials come from the URL (`redis://USER:PASSWORD@`, `rediss://`,
//! `nats://USER:PASSWORD@`, `nats://TOKEN@`), TLS from `[cluster] tls`, `tls_ca`, `tls_cert`
//! and `tls_key`. A broker that refuses them ([`ClusterError::Denied`], [`ClusterError::Tls`])
//! is retried with the same backoff as one that is down, but said at error level once, and
//! named by `/ready`; `required_at_boot` turns it into the boot error.
//!
//! [`SendError::BrokerUnavailable`]: crate::SendError::BrokerUnavailable
//! [`SendError::Timeout`]: crate::SendError::Timeout

mod backplane;
mod command;
mod describe;
mod local;
mod memory;

#[cfg(any(feature = "redis", feature = "nats"))]
mod backoff;
#[cfg(any(feature = "redis", feature = "nats"))]
mod broker;
#[cfg(any(feature = "redis", feature = "nats"))]
mod lease;
#[cfg(any(feature = "redis", feature = "nats"))]
mod supervise;
#[cfg(any(feature = "redis", feature = "nats"))]
mod tls;
#[cfg(any(feature = "redis", feature = "nats"))]
mod wire;

#[cfg(feature = "nats")]
pub(crate) mod nats;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::sync::Arc;

pub(crate) use backplane::{Backplane, remote_room_members};
pub use command::{Command, MemberInfo, Reply};
pub(crate) use describe::remote_members;
pub(crate) use local::LocalDelivery;
pub(crate) use memory::MemoryBackplane;

use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::metrics::Metrics;

/// Connects the backplane named by `[cluster] url`. Commands from other nodes go to
/// `delivery`; backplane failures are counted in `metrics`.
pub(crate) async fn connect(
    config: &ClusterConfig,
    delivery: Arc<dyn LocalDelivery>,
    metrics: Arc<Metrics>,
) -> Result<Arc<dyn Backplane>, ClusterError> {
    match config.url.split("://").next().unwrap_or_default() {
        "memory" => Ok(Arc::new(MemoryBackplane)),
        scheme => connect_broker(scheme, config, delivery, metrics).await,
    }
}

#[cfg(any(feature = "redis", feature = "nats"))]
async fn connect_broker(
    scheme: &str,
    config: &ClusterConfig,
    delivery: Arc<dyn LocalDelivery>,
    metrics: Arc<Metrics>,
) -> Result<Arc<dyn Backplane>, ClusterError> {
    let local = local::LocalNode::new(delivery, metrics);
    match scheme {
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Arc::new(
            supervise::start::<redis::Redis>(config, local).await?,
        )),
        #[cfg(feature = "nats")]
        "nats" => Ok(Arc::new(
            supervise::start::<nats::Nats>(config, local).await?,
        )),
        other => Err(ClusterError::UnsupportedScheme {
            scheme: other.to_string(),
        }),
    }
}

/// A build without brokers has only the memory backplane.
#[cfg(not(any(feature = "redis", feature = "nats")))]
async fn connect_broker(
    scheme: &str,
    _config: &ClusterConfig,
    _delivery: Arc<dyn LocalDelivery>,
    _metrics: Arc<Metrics>,
) -> Result<Arc<dyn Backplane>, ClusterError> {
    Err(ClusterError::UnsupportedScheme {
        scheme: scheme.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BootError;

    /// A node with no connections.
    struct Nobody;

    impl LocalDelivery for Nobody {
        fn apply(&self, command: Command) -> Reply {
            command::dead_reply(&command)
        }
    }

    async fn boot_error(url: &str) -> String {
        let config = ClusterConfig {
            url: url.into(),
            ..ClusterConfig::default()
        };
        let result = connect(&config, Arc::new(Nobody), Arc::new(Metrics::default())).await;
        BootError::from(result.err().expect("no backplane")).to_string()
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn a_bad_url_is_one_line_with_the_password_masked() {
        let line = boot_error("redis://app:s3cret@host:port").await;
        assert!(
            line.starts_with(
                "cluster error: `redis://app:***@host:port` is not a usable Redis URL"
            ),
            "{line}"
        );
        assert!(!line.contains("s3cret") && !line.contains('\n'), "{line}");
    }

    #[cfg(not(all(feature = "redis", feature = "nats")))]
    #[tokio::test]
    async fn a_broker_left_out_of_the_build_is_named() {
        let scheme = if cfg!(feature = "nats") {
            "redis"
        } else {
            "nats"
        };
        assert_eq!(
            boot_error(&format!("{scheme}://127.0.0.1:1")).await,
            format!("cluster error: backplane `{scheme}://` is not available in this build")
        );
    }
}
