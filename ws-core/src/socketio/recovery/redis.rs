//! [`RedisStore`]: streams as Redis Streams (`XADD`, `XRANGE`), sessions as `SET PX` keys taken
//! with `GETDEL`. Needs Redis 6.2 (`GETDEL`, exclusive `XRANGE` starts, `XTRIM MINID`).
//!
//! The connection is opened on first use, not at boot, so a broker that is down then only fails
//! the calls made while it is; a call that fails drops the connection and the next one opens a
//! fresh one, as the backplane's sessions do (Redis clients do not reconnect by themselves).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;

use super::store::{Bounds, Since, Store, StoreError, unix_ms};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::secret::mask_url;

/// How many entries one `XRANGE` reads: enough that a long replay takes few round trips, few
/// enough that one reply stays small.
const PAGE: usize = 1000;

/// The field each stream entry keeps its value under.
const FIELD: &str = "e";

/// Sessions and streams in Redis.
pub(crate) struct RedisStore {
    client: redis::Client,
    /// The URL with its password masked, for errors.
    url: String,
    timeout: Duration,
    /// The open connection; `None` before the first call and after a failed one.
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl RedisStore {
    /// The store for `config`: its client is the backplane's (TLS, ACL users). Connects
    /// nothing; fails only for a URL or TLS files it cannot use.
    pub(crate) fn new(config: &ClusterConfig) -> Result<Self, ClusterError> {
        let url = mask_url(&config.url);
        let client = crate::cluster::redis::connect::client(config, &url)?;
        Ok(Self {
            client,
            url,
            timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// What failed, with the broker's masked URL, as callers of the store see it.
    fn error(&self, doing: &str, error: impl std::fmt::Display) -> StoreError {
        StoreError(format!("Redis at {}: {doing}: {error}", self.url))
    }

    /// The open connection, opening one if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        let mut conn = self.conn.lock().await;
        if let Some(conn) = conn.as_ref() {
            // A multiplexed connection is a handle: clones share the one socket.
            return Ok(conn.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let opened = tokio::time::timeout(
            self.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| self.error("connecting", "timed out"))?
        .map_err(|e| self.error("connecting", e))?;
        tracing::debug!(url = %self.url, "the recovery store connected to Redis");
        *conn = Some(opened.clone());
        Ok(opened)
    }

    /// Runs `call` on the connection within the timeout; a failure drops the connection, so
    /// the next call opens a fresh one instead of reusing a broken socket.
    async fn run<T, F, Fut>(&self, doing: &str, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        let failure = match tokio::time::timeout(self.timeout, call(conn)).await {
            Ok(Ok(value)) => return Ok(value),
            // The server answered (an error reply, a reply of another shape): the connection
            // is fine.
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    redis::ErrorKind::Server(_) | redis::ErrorKind::UnexpectedReturnType
                ) =>
            {
                return Err(self.error(doing, e));
            }
            Ok(Err(e)) => self.error(doing, e),
            Err(_) => self.error(doing, format!("took over {} ms", self.timeout.as_millis())),
        };
        *self.conn.lock().await = None;
        tracing::debug!(error = %failure, "dropped the recovery store's Redis connection");
        Err(failure)
    }

    /// Appends, trims by length and age, and pushes the stream's expiry back: one round trip.
    async fn append_now(
        &self,
        stream: &str,
        entry: String,
        bounds: Bounds,
    ) -> Result<String, StoreError> {
        let max_age = u64::try_from(bounds.max_age.as_millis()).unwrap_or(u64::MAX);
        let min_id = unix_ms().saturating_sub(max_age);
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(bounds.max_len)
            .arg("*")
            .arg(FIELD)
            .arg(entry)
            .cmd("XTRIM")
            .arg(stream)
            .arg("MINID")
            .arg("~")
            .arg(min_id)
            .ignore()
            // An abandoned namespace's stream goes away by itself; every append pushes it back.
            .cmd("PEXPIRE")
            .arg(stream)
            .arg(max_age.saturating_mul(2).max(1))
            .ignore();
        let (id,): (String,) = self
            .run("appending", |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await?;
        Ok(id)
    }

    /// The entries after `offset`, if the stream still holds it.
    async fn since_now(&self, stream: &str, offset: &str) -> Result<Since, StoreError> {
        if !is_stream_id(offset) {
            return Ok(Since::Unknown);
        }
        // The offset itself and the first page after it, in one round trip.
        let mut pipe = redis::pipe();
        pipe.cmd("XRANGE")
            .arg(stream)
            .arg(offset)
            .arg(offset)
            .cmd("XRANGE")
            .arg(stream)
            .arg(format!("({offset}"))
            .arg("+")
            .arg("COUNT")
            .arg(PAGE);
        let (found, mut page): (Vec<Entry>, Vec<Entry>) = self
            .run("reading the stream", |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await?;
        if found.is_empty() && !(page.is_empty() && self.is_last_id(stream, offset).await?) {
            return Ok(Since::Unknown);
        }
        let mut entries = Vec::new();
        loop {
            let full = page.len() == PAGE;
            let last = page.last().map(|(id, _)| id.clone());
            entries.extend(page.into_iter().filter_map(value_of));
            let (true, Some(last)) = (full, last) else {
                return Ok(Since::After(entries));
            };
            page = self
                .run("reading the stream", |mut conn| async move {
                    redis::cmd("XRANGE")
                        .arg(stream)
                        .arg(format!("({last}"))
                        .arg("+")
                        .arg("COUNT")
                        .arg(PAGE)
                        .query_async(&mut conn)
                        .await
                })
                .await?;
        }
    }

    /// Whether `offset` is the last id the stream gave out, its entries since trimmed by age:
    /// nothing came after it, so nothing was missed.
    async fn is_last_id(&self, stream: &str, offset: &str) -> Result<bool, StoreError> {
        let exists: bool = self
            .run("reading the stream", |mut conn| async move {
                redis::cmd("EXISTS")
                    .arg(stream)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        if !exists {
            return Ok(false);
        }
        let info: HashMap<String, redis::Value> = self
            .run("reading the stream", |mut conn| async move {
                redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(stream)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let last = info
            .get("last-generated-id")
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
        Ok(last.as_deref() == Some(offset))
    }
}

/// One `XRANGE` entry: its id and its field-value pairs, flat.
type Entry = (String, Vec<String>);

/// The id and the value of an entry; `None` for an entry without our field (written by
/// something else under the same key), which is skipped.
fn value_of((id, fields): Entry) -> Option<(String, String)> {
    let mut fields = fields.into_iter();
    while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
        if field == FIELD {
            return Some((id, value));
        }
    }
    None
}

/// Whether `offset` reads as a stream id (`MS-SEQ`): anything else is not an offset we gave out,
/// and would be a syntax error in `XRANGE`.
fn is_stream_id(offset: &str) -> bool {
    // Digits only (`parse` would take a sign) that fit a u64, as Redis's ids do.
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok();
    offset
        .split_once('-')
        .is_some_and(|(ms, seq)| digits(ms) && digits(seq))
}

impl Store for RedisStore {
    fn append<'a>(
        &'a self,
        stream: &'a str,
        entry: String,
        bounds: Bounds,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(self.append_now(stream, entry, bounds))
    }

    fn since<'a>(
        &'a self,
        stream: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Result<Since, StoreError>> {
        Box::pin(self.since_now(stream, offset))
    }

    fn put_session<'a>(
        &'a self,
        key: &'a str,
        session: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // `PX 0` is an error to Redis; a session kept for no time is one that is already gone.
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        Box::pin(self.run("keeping a session", move |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(session)
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await
        }))
    }

    fn take_session<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        // `GETDEL` is one command: of two nodes taking the same key, one gets nil.
        Box::pin(self.run("taking a session", move |mut conn| async move {
            redis::cmd("GETDEL").arg(key).query_async(&mut conn).await
        }))
    }
}

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;
