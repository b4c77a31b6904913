//! [`Store`]: where recovered sessions and missed packets live — this process, Redis Streams or
//! NATS JetStream — as the recovery needs it, nothing more.

use std::time::Duration;

use futures_util::future::BoxFuture;

/// Why the store could not be used: the broker is down, refused or answered nonsense.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the recovery store failed: {0}")]
pub struct StoreError(pub(crate) String);

/// A stream's bounds: at most `max_len` entries, none older than `max_age`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_len: usize,
    pub(crate) max_age: Duration,
}

/// What happened to an offset a client reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Since {
    /// The entries after the offset, oldest first, each with its own offset.
    After(Vec<(String, String)>),
    /// The offset is no longer (or never was) in the stream: what came after it cannot be told
    /// whole, so the session is not recovered.
    Unknown,
}

/// Sessions and per-namespace streams of packets.
///
/// A stream is append-only and ordered; its offsets are strings that only the store compares.
/// A session is a value under a key that expires by itself and is read at most once.
pub(crate) trait Store: Send + Sync + 'static {
    /// Appends `entry` to `stream`, trimmed to `bounds`; returns its offset once the store has
    /// acknowledged it.
    fn append<'a>(
        &'a self,
        stream: &'a str,
        entry: String,
        bounds: Bounds,
    ) -> BoxFuture<'a, Result<String, StoreError>>;

    /// The entries of `stream` after `offset`, up to the last one appended.
    fn since<'a>(
        &'a self,
        stream: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Result<Since, StoreError>>;

    /// Keeps `session` under `key` for `ttl`.
    fn put_session<'a>(
        &'a self,
        key: &'a str,
        session: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes the session under `key`: a second call (on any node) finds nothing.
    fn take_session<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
}

/// Now, in Unix milliseconds: the clock the broker stores agree on (Redis stream ids start with
/// it; NATS session values carry their deadline in it).
#[cfg(any(feature = "redis", feature = "nats"))]
pub(crate) fn unix_ms() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
