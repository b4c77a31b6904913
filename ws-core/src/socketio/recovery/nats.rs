//! [`NatsStore`]: a JetStream stream per namespace (offsets are stream sequences) and a
//! JetStream KV bucket of sessions, taken by a delete that expects the revision read.
//!
//! The client is made on first use, not at boot, so a server that is down then only fails the
//! calls made while it is; a first connect that fails is tried again by the next call. Once
//! connected the client reconnects by itself, for ever, so it is kept: what a restarted server
//! may have lost (a stream, the bucket) is forgotten on any failure and made again next time.
//! Sessions are in `nats_sessions.rs`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, ErrorCode, kv};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use super::store::{Bounds, Since, Store, StoreError};
use crate::cluster::nats::{lease::sanitize, secured};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::secret::mask_url;

/// Sessions and streams in NATS JetStream.
pub(crate) struct NatsStore {
    config: ClusterConfig,
    /// The URL with its password masked, for errors.
    url: String,
    /// The cluster prefix, cut to what stream names and subjects may carry.
    prefix: String,
    timeout: Duration,
    /// The JetStream context once the client connected.
    js: tokio::sync::Mutex<Option<jetstream::Context>>,
    /// The streams this process made sure exist: an append to one of them is just a publish.
    streams: parking_lot::Mutex<HashSet<String>>,
    /// The session bucket once opened.
    bucket: tokio::sync::Mutex<Option<kv::Store>>,
}

impl NatsStore {
    /// The store for `config`, with the backplane's credentials and TLS. Connects nothing;
    /// fails only for a URL or TLS files it cannot use.
    pub(crate) fn new(config: &ClusterConfig) -> Result<Self, ClusterError> {
        let url = mask_url(&config.url);
        // Checked now so a bad URL fails boot, as the backplane's does; used at connect.
        secured::secure(config, &url, async_nats::ConnectOptions::new())?;
        Ok(Self {
            config: config.clone(),
            url,
            prefix: sanitize(&config.prefix),
            timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            js: tokio::sync::Mutex::new(None),
            streams: parking_lot::Mutex::new(HashSet::new()),
            bucket: tokio::sync::Mutex::new(None),
        })
    }

    /// What failed, with the server's masked URL, as callers of the store see it.
    fn error(&self, doing: &str, error: impl std::fmt::Display) -> StoreError {
        StoreError(format!("NATS at {}: {doing}: {error}", self.url))
    }

    /// Runs `call` within the timeout.
    async fn bounded<T, E: std::fmt::Display>(
        &self,
        doing: &str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(|e| self.error(doing, e)),
            Err(_) => Err(self.error(doing, format!("took over {} ms", self.timeout.as_millis()))),
        }
    }

    /// The JetStream context, connecting the client if it never did.
    async fn context(&self) -> Result<jetstream::Context, StoreError> {
        let mut js = self.js.lock().await;
        if let Some(js) = js.as_ref() {
            return Ok(js.clone());
        }
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout))
            .max_reconnects(None);
        let (url, options, _) = secured::secure(&self.config, &self.url, options)
            .map_err(|e| self.error("connecting", e))?;
        let client = self
            .bounded(
                "connecting",
                async_nats::connect_with_options(url.as_str(), options),
            )
            .await?;
        let mut context = jetstream::new(client);
        context.set_timeout(self.timeout);
        tracing::debug!(url = %self.url, "the recovery store connected to NATS");
        *js = Some(context.clone());
        Ok(context)
    }

    /// The JetStream name of `stream` (any string) and its subject: `{prefix}_sio_{hex}` and
    /// `{prefix}.sio.recovery.{hex}`. Hex keeps `/chat` and `/chat?` apart, as sanitizing would
    /// not; a long name keeps its head and a hash of the whole.
    pub(super) fn names(&self, stream: &str) -> (String, String) {
        let token = token(stream);
        (
            format!("{}_sio_{token}", self.prefix),
            format!("{}.sio.recovery.{token}", self.prefix),
        )
    }

    /// The session bucket's name.
    pub(super) fn bucket_name(&self) -> String {
        format!("{}_sio_sessions", self.prefix)
    }

    /// Makes sure the stream exists (once per process), publishes and waits for the ack.
    async fn append_now(
        &self,
        stream: &str,
        entry: String,
        bounds: Bounds,
    ) -> Result<String, StoreError> {
        let js = self.context().await?;
        let (name, subject) = self.names(stream);
        let result = async {
            if !self.streams.lock().contains(&name) {
                let config = stream::Config {
                    name: name.clone(),
                    subjects: vec![subject.clone()],
                    max_messages: i64::try_from(bounds.max_len).unwrap_or(i64::MAX),
                    max_age: bounds.max_age,
                    // What the server acknowledged must outlive the node that appended it, and
                    // a restart of the server.
                    storage: StorageType::File,
                    discard: DiscardPolicy::Old,
                    ..Default::default()
                };
                // A stream another node made is used as it is.
                self.bounded("creating the stream", js.get_or_create_stream(config))
                    .await?;
                self.streams.lock().insert(name.clone());
            }
            let ack = self
                .bounded("appending", async {
                    js.publish(subject.clone(), entry.into()).await?.await
                })
                .await?;
            Ok(ack.sequence.to_string())
        }
        .await;
        if result.is_err() {
            // The server may have lost the stream (a restart without its store): make it again.
            self.streams.lock().remove(&name);
        }
        result
    }

    /// The entries after `offset`: kept when it is the last sequence given out, or when the
    /// stream still holds its message.
    async fn since_now(&self, stream: &str, offset: &str) -> Result<Since, StoreError> {
        // Sequences start at 1: 0 is not an offset this store gave out.
        let Some(offset) = offset.parse::<u64>().ok().filter(|o| *o > 0) else {
            return Ok(Since::Unknown);
        };
        let js = self.context().await?;
        let (name, _) = self.names(stream);
        let found = match tokio::time::timeout(self.timeout, js.get_stream(&name)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e))
                if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                return Ok(Since::Unknown);
            }
            Ok(Err(e)) => return Err(self.error("reading the stream", e)),
            Err(_) => return Err(self.error("reading the stream", "timed out")),
        };
        let state = &found.cached_info().state;
        let last = state.last_sequence;
        // The last offset given out, even if its entry aged out since: nothing came after it.
        if offset == last {
            return Ok(Since::After(Vec::new()));
        }
        if offset < state.first_sequence || offset > last {
            return Ok(Since::Unknown);
        }
        match tokio::time::timeout(self.timeout, found.get_raw_message(offset)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(Since::Unknown);
            }
            Ok(Err(e)) => return Err(self.error("reading the stream", e)),
            Err(_) => return Err(self.error("reading the stream", "timed out")),
        }
        self.bounded("reading the stream", read(&found, offset + 1, last))
            .await
            .map(Since::After)
    }
}

/// The entries of `stream` from `first` to `last`, through an ephemeral consumer that sends them
/// all in one batch: one round trip for the lot, where a get per entry would take one each.
async fn read(
    stream: &stream::Stream,
    first: u64,
    last: u64,
) -> Result<Vec<(String, String)>, String> {
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: first,
            },
            ack_policy: AckPolicy::None,
            memory_storage: true,
            // Gone by itself soon after: nothing deletes it if this read is cancelled.
            inactive_threshold: Duration::from_secs(5),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let wanted = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
    let mut messages = consumer
        .batch()
        .max_messages(wanted)
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(wanted.min(100_000));
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let info = message.info().map_err(|e| e.to_string())?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        if sequence > last {
            break;
        }
        let entry = String::from_utf8(message.payload.to_vec())
            .map_err(|_| format!("entry {sequence} is not UTF-8"))?;
        entries.push((sequence.to_string(), entry));
        if sequence == last || pending == 0 {
            return Ok(entries);
        }
    }
    Err("the stream ended before its last entry".into())
}

/// `name` as a token streams, subjects and KV keys all take: its bytes in hex, or for a long
/// one the head of that and a hash of the whole.
fn token(name: &str) -> String {
    const MAX: usize = 64;
    let mut hex = String::with_capacity(name.len() * 2);
    for byte in name.bytes() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    if hex.len() <= MAX {
        return hex;
    }
    // FNV-1a: stable across builds and processes, unlike std's hasher, so every node agrees.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hex.truncate(MAX - 16);
    let _ = write!(hex, "{hash:016x}");
    hex
}

impl Store for NatsStore {
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
        Box::pin(self.put_now(key, session, ttl))
    }

    fn take_session<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(self.take_now(key))
    }
}

#[path = "nats_sessions.rs"]
mod sessions;

#[cfg(test)]
#[path = "nats_tests.rs"]
mod tests;
