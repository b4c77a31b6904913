//! Connection state recovery (Socket.IO v4.6+): a client that lost its transport and comes back
//! within `max_disconnection_duration_ms`, to this node or any other, gets back its socket id,
//! its rooms and every room and broadcast packet it missed, with `socket.recovered === true`.
//!
//! How: every emit to a recovering namespace's rooms (or to all of it) is first appended to the
//! namespace's stream in the store, and goes out with the stream's offset as its last argument;
//! the client keeps the last offset it saw. When a transport is lost (not when the client leaves
//! on purpose), the socket's session — id and rooms — is kept under a private id (`pid`) the
//! client got at connect. Reconnecting, the client sends `pid` and offset; the node that takes it
//! reads the session once, rejoins its rooms and replays the entries after the offset that were
//! for it, before anything new.
//!
//! | file | what it holds |
//! |---|---|
//! | `store.rs` | `Store`: sessions and streams, as the recovery needs them |
//! | `memory.rs` | the store of a single node (`memory://`) |
//! | `redis.rs` | Redis Streams (`XADD`, `XRANGE`) and `SET PX` / `GETDEL` sessions |
//! | `nats.rs` | a JetStream stream per namespace; `nats_sessions.rs`: a JetStream KV bucket of sessions |
//! | `tail.rs` | this node's copy of each stream's end, shared by the clients that come back at once |
//! | `entry.rs` | what is stored: `Recorded` emits, `Saved` sessions |
//! | `testkit.rs` | the cases each broker's tests (`*_tests.rs`) run against the real broker |

pub(crate) mod entry;
pub(crate) mod memory;
#[cfg(feature = "nats")]
pub(crate) mod nats;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod store;
pub(crate) mod tail;
#[cfg(test)]
mod testkit;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use entry::{Recorded, Saved};
use store::{Bounds, Since, Store};
use tail::{Entries, Tails};

pub use store::StoreError;

use crate::config::{ClusterConfig, Config, ServerKind};
use crate::error::ClusterError;

/// A namespace's recovery limits.
#[derive(Debug, Clone, Copy)]
struct Limits {
    bounds: Bounds,
    ttl: Duration,
}

/// What a reconnecting client gets back.
#[derive(Debug)]
pub(crate) struct Resumed {
    pub(crate) saved: Saved,
    /// The offset the client reported.
    pub(crate) offset: String,
    /// The entries it missed, oldest first, each with its offset.
    pub(crate) missed: Entries,
}

/// The recovery of every namespace that asks for it, on this node.
pub(crate) struct Recovery {
    store: Option<Arc<dyn Store>>,
    prefix: String,
    namespaces: HashMap<String, Limits>,
    tails: Tails,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery")
            .field("namespaces", &self.namespaces.keys())
            .finish_non_exhaustive()
    }
}

impl Recovery {
    /// Recovery for the namespaces the Socket.IO servers of `config` name, in the store
    /// `[cluster]` points at. Connects nothing: a broker that is down now fails the emits and
    /// reconnects of recovering namespaces until it is up, as it fails cluster-wide emits.
    pub(crate) fn open(config: &Config) -> Result<Self, ClusterError> {
        let mut namespaces = HashMap::new();
        for server in &config.servers {
            let socketio = &server.settings.socketio;
            if server.kind != ServerKind::Websocket || !socketio.enabled {
                continue;
            }
            let recovery = &socketio.recovery;
            let ttl = Duration::from_millis(recovery.max_disconnection_duration_ms);
            for namespace in &recovery.namespaces {
                namespaces.insert(
                    namespace.clone(),
                    Limits {
                        bounds: Bounds {
                            max_len: recovery.max_packets,
                            max_age: ttl,
                        },
                        ttl,
                    },
                );
            }
        }
        let store = match namespaces.is_empty() {
            true => None,
            false => Some(open_store(&config.cluster)?),
        };
        Ok(Self {
            store,
            prefix: config.cluster.prefix.clone(),
            namespaces,
            tails: Tails::default(),
        })
    }

    /// No namespace recovers.
    pub(crate) fn off() -> Self {
        Self {
            store: None,
            prefix: String::new(),
            namespaces: HashMap::new(),
            tails: Tails::default(),
        }
    }

    /// Whether `namespace` recovers sessions.
    pub(crate) fn covers(&self, namespace: &str) -> bool {
        self.store.is_some() && self.namespaces.contains_key(namespace)
    }

    fn stream(&self, namespace: &str) -> String {
        format!("{}:sio:recovery:{namespace}", self.prefix)
    }

    fn session_key(&self, pid: &str) -> String {
        format!("{}:sio:session:{pid}", self.prefix)
    }

    fn parts(&self, namespace: &str) -> Option<(&dyn Store, Limits)> {
        Some((self.store.as_deref()?, *self.namespaces.get(namespace)?))
    }

    /// Appends an emit to `namespace`'s stream; its offset, or `None` when the namespace does
    /// not recover.
    pub(crate) async fn record(
        &self,
        namespace: &str,
        recorded: &Recorded,
    ) -> Result<Option<String>, StoreError> {
        let Some((store, limits)) = self.parts(namespace) else {
            return Ok(None);
        };
        let entry = serde_json::to_string(recorded).map_err(|e| StoreError(e.to_string()))?;
        let offset = store
            .append(&self.stream(namespace), entry, limits.bounds)
            .await?;
        Ok(Some(offset))
    }

    /// Keeps a socket whose transport was lost, under its `pid`.
    pub(crate) async fn keep(&self, pid: &str, saved: &Saved) -> Result<(), StoreError> {
        let Some((store, limits)) = self.parts(&saved.namespace) else {
            return Ok(());
        };
        let value = serde_json::to_string(saved).map_err(|e| StoreError(e.to_string()))?;
        store
            .put_session(&self.session_key(pid), value, limits.ttl)
            .await
    }

    /// Drops the session of `pid`: its socket left on purpose, so nothing is to be recovered.
    pub(crate) async fn forget(&self, namespace: &str, pid: &str) -> Result<(), StoreError> {
        let Some((store, _)) = self.parts(namespace) else {
            return Ok(());
        };
        store.take_session(&self.session_key(pid)).await.map(drop)
    }

    /// How long a session of `namespace` is kept.
    pub(crate) fn lifetime(&self, namespace: &str) -> Option<Duration> {
        self.parts(namespace).map(|(_, limits)| limits.ttl)
    }

    /// The session of `pid` in `namespace` and what it missed after `offset`; `None` when
    /// it cannot be recovered (unknown or expired, another namespace's, or the offset is no
    /// longer in the stream), and the client connects afresh.
    pub(crate) async fn resume(
        &self,
        namespace: &str,
        pid: &str,
        offset: &str,
    ) -> Result<Option<Resumed>, StoreError> {
        let Some((store, limits)) = self.parts(namespace) else {
            return Ok(None);
        };
        let Some(value) = store.take_session(&self.session_key(pid)).await? else {
            return Ok(None);
        };
        let saved: Saved = match serde_json::from_str(&value) {
            Ok(saved) => saved,
            Err(error) => {
                tracing::warn!(%error, "a stored socket.io session does not parse; connecting afresh");
                return Ok(None);
            }
        };
        if saved.namespace != namespace {
            return Ok(None);
        }
        let stream = self.stream(namespace);
        let wanted = |recorded: &Recorded| recorded.was_for(&saved.id, &saved.rooms);
        let read = self
            .tails
            .after(store, &stream, offset, limits.bounds.max_len, wanted);
        let Some(missed) = read.await? else {
            return Ok(None);
        };
        Ok(Some(Resumed {
            saved,
            offset: offset.to_owned(),
            missed,
        }))
    }

    /// The entries of `namespace` after `offset` that were for `saved`, read from the store
    /// now (not from this node's copy); `None` when the offset is no longer in the stream.
    pub(crate) async fn missed(
        &self,
        namespace: &str,
        saved: &Saved,
        offset: &str,
    ) -> Result<Option<Entries>, StoreError> {
        let Some((store, _)) = self.parts(namespace) else {
            return Ok(None);
        };
        let entries = match store.since(&self.stream(namespace), offset).await? {
            Since::After(entries) => entries,
            Since::Unknown => return Ok(None),
        };
        let missed = tail::parse(entries)
            .filter(|(_, recorded)| recorded.was_for(&saved.id, &saved.rooms))
            .collect();
        Ok(Some(missed))
    }
}

/// The store `[cluster]` points at. Connects nothing: a broker store connects on first use, so
/// a broker that is down at boot does not fail boot.
fn open_store(cluster: &ClusterConfig) -> Result<Arc<dyn Store>, ClusterError> {
    let scheme = cluster.url.split("://").next().unwrap_or_default();
    match scheme {
        "memory" => Ok(Arc::new(memory::MemoryStore::default())),
        #[cfg(feature = "redis")]
        "redis" | "rediss" => Ok(Arc::new(redis::RedisStore::new(cluster)?)),
        #[cfg(feature = "nats")]
        "nats" => Ok(Arc::new(nats::NatsStore::new(cluster)?)),
        other => Err(ClusterError::BadUrl {
            broker: "recovery",
            url: crate::secret::mask_url(&cluster.url),
            reason: format!("connection state recovery has no store for `{other}://` yet"),
        }),
    }
}
