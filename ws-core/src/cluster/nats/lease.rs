//! The NATS lease primitive: node ids are keys `n{id}` in the JetStream KV bucket
//! `{prefix}_nodes`, whose `max_age` is the lease. A key lives `lease` after its last write, so
//! renewing is an `update` (compare-and-set on the last revision, which also proves nobody else
//! took the id), claiming is a `create` (atomic: two nodes starting together never share an id)
//! and a crashed node's key expires by itself.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, kv};

use super::Nats;
use crate::NodeId;
use crate::SendError;
use crate::cluster::broker::Core;
use crate::error::ClusterError;

/// Subject tokens and bucket names allow fewer characters than a Redis prefix; anything else
/// becomes `_`.
pub(super) fn sanitize(prefix: &str) -> String {
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
pub(super) async fn ensure_bucket(
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

/// Claims the first free id from a random start; the id and its key's revision.
pub(super) async fn claim(
    store: &kv::Store,
    token: &bytes::Bytes,
    url: &str,
) -> Result<Option<(NodeId, u64)>, ClusterError> {
    for node in crate::cluster::lease::candidates(crate::cluster::lease::random_start()) {
        match store.create(key(node), token.clone()).await {
            Ok(revision) => return Ok(Some((node, revision))),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(ClusterError::Claim {
                    url: url.to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(None)
}

impl Nats {
    /// Whether `node` holds a lease.
    pub(super) async fn lease_alive(&self, core: &Core, node: NodeId) -> Result<bool, SendError> {
        let store = self.store.read().clone();
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
    /// it when the revision moved (expired, or the server lost the bucket).
    pub(super) async fn renew_lease(&self, core: &Core) -> Result<(), String> {
        let store = self.store.read().clone();
        let revision = self.revision.load(Ordering::Acquire);
        let update = tokio::time::timeout(
            core.timeout,
            store.update(key(core.node), core.token.clone(), revision),
        )
        .await;
        match update {
            Ok(Ok(revision)) => {
                self.revision.store(revision, Ordering::Release);
                Ok(())
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                self.reassert(core).await
            }
            Ok(Err(e)) => Err(format!("renewing the lease failed: {e}")),
            Err(_) => Err(format!(
                "renewing the lease took over {} ms",
                core.timeout.as_millis()
            )),
        }
    }

    /// Makes sure the bucket exists and this node holds its key, taking it again if it expired.
    pub(super) async fn reassert(&self, core: &Core) -> Result<(), String> {
        let work = async {
            let store = ensure_bucket(&self.js, &self.bucket, core.lease).await?;
            *self.store.write() = store.clone();
            let key = key(core.node);
            let revision = match store.entry(key.clone()).await.map_err(|e| e.to_string())? {
                Some(entry)
                    if entry.operation == kv::Operation::Put && entry.value != core.token =>
                {
                    return Err(format!(
                        "node id {} was taken by another process while this node could not renew its lease",
                        core.node
                    ));
                }
                Some(entry) if entry.operation == kv::Operation::Put => store
                    .update(key, core.token.clone(), entry.revision)
                    .await
                    .map_err(|e| e.to_string())?,
                _ => {
                    let revision = store
                        .create(key, core.token.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                    tracing::info!(node = %core.node, "re-took the node lease (it had expired or the broker restarted)");
                    revision
                }
            };
            // Those were round trips after the client's re-subscriptions, so the server has them.
            self.revision.store(revision, Ordering::Release);
            Ok(())
        };
        tokio::time::timeout(core.timeout * 2, work)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "re-asserting the lease took over {} ms",
                    (core.timeout * 2).as_millis()
                ))
            })
    }

    /// Deletes this node's key if it still holds it.
    pub(super) async fn release_lease(&self, core: &Core) {
        let store = self.store.read().clone();
        let revision = self.revision.load(Ordering::Acquire);
        let delete = store.delete_expect_revision(key(core.node), Some(revision));
        if let Ok(Err(e)) = tokio::time::timeout(core.timeout, delete).await {
            tracing::debug!(node = %core.node, error = %e, "could not release the node lease; it expires by itself");
        }
    }
}
