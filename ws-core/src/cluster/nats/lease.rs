//! The NATS lease primitive: node ids are keys `n{id}` in the JetStream KV bucket
//! `{prefix}_nodes`, whose `max_age` is the lease. A key lives `lease` after its last write, so
//! renewing is an `update` (compare-and-set on the last revision, which also proves nobody else
//! took the id), claiming is a `create` (atomic: two nodes starting together never share an id)
//! and a crashed node's key expires by itself.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, kv};

use tokio::time::Instant;

use super::Nats;
use crate::NodeId;
use crate::SendError;
use crate::cluster::broker::{Core, Fault};
use crate::error::ClusterError;

/// Subject tokens and bucket names allow fewer characters than a Redis prefix; anything else
/// becomes `_`.
pub(crate) fn sanitize(prefix: &str) -> String {
    let cleaned: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "ws".into()
    } else {
        cleaned
    }
}

pub(super) fn key(node: NodeId) -> String {
    format!("n{}", node.0)
}

/// The stream behind the lease bucket, as `kv::Config` would make it. Built by hand because
/// async-nats 0.51's `create_key_value` first reads the account info and cannot parse the
/// answer of NATS 2.9 (no `reserved_memory`); the stream API and `get_key_value` work on both.
fn bucket_stream(bucket: &str, lease: Duration) -> jetstream::stream::Config {
    use jetstream::stream::{Config, DiscardPolicy, StorageType};
    Config {
        name: format!("KV_{bucket}"),
        description: Some("ws-core node leases".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        // One value per key: a KV bucket with history 1.
        max_messages_per_subject: 1,
        // A key lives this long after its last write: the lease.
        max_age: lease,
        // Leases are worth nothing after a restart of the server: memory is enough and faster.
        storage: StorageType::Memory,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    }
}

/// Opens the lease bucket, creating it if the server has none (first node, or a restarted
/// server that lost it).
async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
    lease: Duration,
) -> Result<kv::Store, String> {
    // An existing bucket is used as it is, even if another node made it with another lease_ms.
    js.get_or_create_stream(bucket_stream(bucket, lease))
        .await
        .map_err(|e| e.to_string())?;
    js.get_key_value(bucket).await.map_err(|e| e.to_string())
}

impl Nats {
    /// Opens the lease bucket and claims the first free id from a random start.
    pub(super) async fn claim(&self, core: &Core) -> Result<(), Fault> {
        let store = self.open_bucket(core).await?;
        let sent = Instant::now();
        let work = async {
            for node in crate::cluster::lease::candidates(crate::cluster::lease::random_start()) {
                match store.create(key(node), core.token.clone()).await {
                    Ok(revision) => return Ok(Some((node, revision))),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(format!("claiming a node id failed: {e}")),
                }
            }
            Ok(None)
        };
        let claimed = tokio::time::timeout(core.timeout * 4, work)
            .await
            .map_err(|_| "claiming a node id timed out".to_string())??;
        let Some((node, revision)) = claimed else {
            return Err(Fault::Down(
                ClusterError::NoFreeNodeId {
                    prefix: self.prefix.clone(),
                    url: core.url.clone(),
                }
                .to_string(),
            ));
        };
        self.revision.store(revision, Ordering::Release);
        core.set_claimed(node, sent);
        tracing::info!(node = %node, url = %core.url, "claimed a node id");
        Ok(())
    }

    /// Opens (or creates) the lease bucket and keeps it for later calls.
    async fn open_bucket(&self, core: &Core) -> Result<kv::Store, String> {
        let store = tokio::time::timeout(
            core.timeout * 2,
            ensure_bucket(&self.js, &self.bucket, core.lease),
        )
        .await
        .map_err(|_| format!("opening the lease bucket `{}` timed out", self.bucket))?
        .map_err(|reason| {
            ClusterError::LeaseStore {
                bucket: self.bucket.clone(),
                url: core.url.clone(),
                reason,
            }
            .to_string()
        })?;
        *self.store.write() = Some(store.clone());
        Ok(store)
    }

    fn store(&self) -> Result<kv::Store, String> {
        self.store
            .read()
            .clone()
            .ok_or_else(|| "the lease bucket is not open".to_string())
    }

    /// Whether `node` holds a lease.
    pub(super) async fn lease_alive(&self, core: &Core, node: NodeId) -> Result<bool, SendError> {
        let store = self.store().map_err(SendError::BrokerUnavailable)?;
        match tokio::time::timeout(core.timeout, store.entry(key(node))).await {
            Ok(Ok(entry)) => Ok(entry.is_some_and(|e| e.operation == kv::Operation::Put)),
            Ok(Err(e)) => Err(SendError::BrokerUnavailable(format!(
                "reading node {node}'s lease failed: {e}"
            ))),
            Err(_) => Err(SendError::BrokerUnavailable(format!(
                "reading node {node}'s lease took over {} ms",
                core.timeout.as_millis()
            ))),
        }
    }

    /// Renews the lease by compare-and-set on its last revision; falls back to re-asserting
    /// it when the revision moved (expired, taken, or the server lost the bucket).
    pub(super) async fn renew_lease(&self, core: &Core) -> Result<(), Fault> {
        let store = self.store()?;
        let revision = self.revision.load(Ordering::Acquire);
        let sent = Instant::now();
        let update = tokio::time::timeout(
            core.timeout,
            store.update(key(core.node()), core.token.clone(), revision),
        )
        .await;
        match update {
            Ok(Ok(revision)) => {
                self.revision.store(revision, Ordering::Release);
                core.lease_written(sent);
                Ok(())
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                self.reassert(core).await
            }
            Ok(Err(e)) => Err(Fault::Down(format!("renewing the lease failed: {e}"))),
            Err(_) => Err(Fault::Down(format!(
                "renewing the lease took over {} ms",
                core.timeout.as_millis()
            ))),
        }
    }

    /// Makes sure the bucket exists and this node holds its key, taking it again if it expired
    /// and nobody else took it.
    pub(super) async fn reassert(&self, core: &Core) -> Result<(), Fault> {
        let node = core.node();
        let sent = Instant::now();
        let work = async {
            let store = self.open_bucket(core).await.map_err(Fault::Down)?;
            let key = key(node);
            let entry = store
                .entry(key.clone())
                .await
                .map_err(|e| Fault::Down(e.to_string()))?;
            let revision = match entry {
                Some(entry)
                    if entry.operation == kv::Operation::Put && entry.value != core.token =>
                {
                    return Err(Fault::Lost(format!(
                        "node id {node} was taken by another process while this node could not renew its lease"
                    )));
                }
                Some(entry) if entry.operation == kv::Operation::Put => store
                    .update(key, core.token.clone(), entry.revision)
                    .await
                    .map_err(|e| Fault::Down(e.to_string()))?,
                _ => {
                    let revision = store.create(key, core.token.clone()).await.map_err(|e| {
                        if e.kind() == kv::CreateErrorKind::AlreadyExists {
                            Fault::Lost(format!("node id {node} was taken by another process"))
                        } else {
                            Fault::Down(e.to_string())
                        }
                    })?;
                    tracing::info!(node = %node, "re-took the node lease (it had expired or the broker restarted)");
                    revision
                }
            };
            // Those were round trips after the client's re-subscriptions, so the server has them.
            self.revision.store(revision, Ordering::Release);
            core.lease_written(sent);
            Ok(())
        };
        tokio::time::timeout(core.timeout * 2, work)
            .await
            .unwrap_or_else(|_| {
                Err(Fault::Down(format!(
                    "re-asserting the lease took over {} ms",
                    (core.timeout * 2).as_millis()
                )))
            })
    }

    /// Deletes this node's key if it still holds it.
    pub(super) async fn release_lease(&self, core: &Core) {
        let Ok(store) = self.store() else {
            return;
        };
        let revision = self.revision.load(Ordering::Acquire);
        let delete = store.delete_expect_revision(key(core.node()), Some(revision));
        if let Ok(Err(e)) = tokio::time::timeout(core.timeout, delete).await {
            tracing::debug!(node = %core.node(), error = %e, "could not release the node lease; it expires by itself");
        }
    }
}
