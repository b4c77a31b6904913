//! The session half of [`NatsStore`]: a JetStream KV bucket `{prefix}_sio_sessions`, each key
//! the hex of a session key, each value `{deadline in Unix ms} {session}`. A take reads the
//! entry and deletes it expecting the revision it read, so of two nodes taking the same session
//! at once only one gets it.

use std::time::Duration;

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{ErrorCode, kv};

use super::{NatsStore, token};
use crate::socketio::recovery::store::{StoreError, unix_ms};

impl NatsStore {
    /// The session bucket, made if it does not exist yet and widened if `ttl` (a put's) is
    /// longer than its `max_age`: a bucket has one `max_age` but namespaces may keep sessions
    /// for different times, so it keeps them as long as the longest, and each value carries its
    /// own deadline.
    pub(super) async fn sessions(&self, ttl: Option<Duration>) -> Result<kv::Store, StoreError> {
        let mut bucket = self.bucket.lock().await;
        if let Some(open) = bucket.as_ref()
            && !too_short(open.stream.cached_info().config.max_age, ttl)
        {
            return Ok(open.clone());
        }
        let js = self.context().await?;
        let name = self.bucket_name();
        if let Some(ttl) = ttl {
            // Read afresh, so a bucket another node widened further is not narrowed here.
            let made = self
                .bounded(
                    "creating the session bucket",
                    js.get_or_create_stream(bucket_stream(&name, ttl)),
                )
                .await?;
            if too_short(made.cached_info().config.max_age, Some(ttl)) {
                self.bounded(
                    "widening the session bucket",
                    js.update_stream(bucket_stream(&name, ttl)),
                )
                .await?;
                tracing::debug!(bucket = %name, ?ttl, "widened the socket.io session bucket");
            }
        }
        // Taking before any node kept a session fails here: the caller tells that apart.
        let opened = self
            .bounded("opening the session bucket", js.get_key_value(&name))
            .await?;
        *bucket = Some(opened.clone());
        Ok(opened)
    }

    /// Forgets the open bucket, so the next call opens (or makes) it again.
    async fn forget_bucket(&self) {
        *self.bucket.lock().await = None;
    }

    /// Keeps `session` under `key` with its deadline, in a bucket that keeps it at least `ttl`.
    pub(super) async fn put_now(
        &self,
        key: &str,
        session: String,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let bucket = self.sessions(Some(ttl)).await?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let deadline = unix_ms().saturating_add(ttl_ms);
        let value = format!("{deadline} {session}");
        let put = self
            .bounded("keeping a session", bucket.put(token(key), value.into()))
            .await;
        if put.is_err() {
            self.forget_bucket().await;
        }
        put.map(drop)
    }

    /// Takes the session under `key`; no bucket yet means no session.
    pub(super) async fn take_now(&self, key: &str) -> Result<Option<String>, StoreError> {
        let bucket = match self.sessions(None).await {
            Ok(bucket) => bucket,
            Err(_) if !self.bucket_exists().await? => return Ok(None),
            Err(e) => return Err(e),
        };
        let taken = self.take_from(&bucket, &token(key)).await;
        if taken.is_err() {
            self.forget_bucket().await;
        }
        taken
    }

    /// Whether the session bucket exists, for a take that could not open it.
    async fn bucket_exists(&self) -> Result<bool, StoreError> {
        let js = self.context().await?;
        let name = format!("KV_{}", self.bucket_name());
        match tokio::time::timeout(self.timeout, js.get_stream(&name)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e))
                if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                Ok(false)
            }
            Ok(Err(e)) => Err(self.error("opening the session bucket", e)),
            Err(_) => Err(self.error("opening the session bucket", "timed out")),
        }
    }

    /// Reads the session and deletes it expecting the revision read: of two nodes taking it at
    /// once, the second delete finds another revision and that node gets nothing.
    async fn take_from(&self, bucket: &kv::Store, key: &str) -> Result<Option<String>, StoreError> {
        let entry = self.bounded("taking a session", bucket.entry(key)).await?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        let deleted = tokio::time::timeout(
            self.timeout,
            bucket.delete_expect_revision(key, Some(entry.revision)),
        )
        .await;
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => return Ok(None),
            Ok(Err(e)) => return Err(self.error("taking a session", e)),
            Err(_) => return Err(self.error("taking a session", "timed out")),
        }
        let value = String::from_utf8_lossy(&entry.value);
        // The bucket's `max_age` is the first session's TTL; each value carries its own.
        let Some((deadline, session)) = value.split_once(' ') else {
            return Ok(None);
        };
        let alive = deadline.parse::<u64>().is_ok_and(|d| d > unix_ms());
        Ok(alive.then(|| session.to_string()))
    }
}

/// Whether a bucket kept for `max_age` (0: for ever) keeps a session put for `ttl` too short.
fn too_short(max_age: Duration, ttl: Option<Duration>) -> bool {
    ttl.is_some_and(|ttl| !max_age.is_zero() && ttl.max(Duration::from_secs(1)) > max_age)
}

/// The stream behind the session bucket, as `kv::Config` would make it, by hand for the reason
/// `cluster/nats/lease.rs` gives (async-nats cannot create buckets on NATS 2.9).
fn bucket_stream(bucket: &str, ttl: Duration) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("ws-core socket.io sessions".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        // Sessions and the delete markers of taken ones go by themselves. At least a second:
        // a `max_age` of 0 would keep them for ever.
        max_age: ttl.max(Duration::from_secs(1)),
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    }
}
