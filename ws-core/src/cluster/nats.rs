//! The NATS backplane: core NATS request/reply for messages, a JetStream KV bucket for leases.
//!
//! Subjects: `{prefix}.node.{id}` (requests to a node; replies use NATS's own inboxes) and
//! `{prefix}.all` (casts). Node ids are keys `n{id}` in the KV bucket `{prefix}_nodes`, created
//! with `max_age = lease_ms`: a key lives `lease` after its last write, so renewing is an
//! `update` (compare-and-set on the last revision, which also proves nobody else took the id)
//! and a crashed node's key expires by itself. Claiming is `create`, which JetStream makes
//! atomic (expected last revision 0): two nodes starting together never share an id. This needs
//! JetStream (`nats-server -js`) but no 2.11-only per-message TTLs, so NATS 2.9 works.
//!
//! The client reconnects by itself (exponential backoff, capped at 2 s, through
//! `reconnect_delay_callback`) and re-subscribes every subscription before anything else is sent.
//! The supervisor here follows its connection events: not ready on `Disconnected`; on
//! `Connected` it re-creates the bucket if the server lost it, re-asserts the lease, and only
//! then reports ready again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::jetstream::{self, kv};
use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::{StreamExt, TryStreamExt};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::wire::{self, Frame};
use super::{Backoff, Backplane, Command, LocalNode, Reply, dead_reply};
use crate::config::ClusterConfig;
use crate::fd::MAX_NODE;
use crate::{BootError, NodeId, SendError};

/// Subject tokens and bucket names allow fewer characters than a Redis prefix; anything else
/// becomes `_`.
fn sanitize(prefix: &str) -> String {
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

fn key(node: NodeId) -> String {
    format!("n{}", node.0)
}

struct Shared {
    client: Client,
    js: jetstream::Context,
    /// The lease bucket; replaced when a restarted server had lost it.
    store: RwLock<kv::Store>,
    bucket: String,
    url: String,
    node: NodeId,
    token: Bytes,
    /// The revision of this node's key after its last write, for compare-and-set renewals.
    revision: AtomicU64,
    prefix: String,
    lease: Duration,
    timeout: Duration,
    local: LocalNode,
    ready: AtomicBool,
}

/// The NATS backplane of one node.
pub(crate) struct NatsBackplane {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn options(
    events: mpsc::UnboundedSender<Event>,
    timeout: Duration,
    lease: Duration,
) -> ConnectOptions {
    ConnectOptions::new()
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        // The client's pings are how a hung (not closed) server is noticed; the default of
        // 60 s would leave the node "ready" on a dead broker for a minute.
        .ping_interval(super::renew_every(lease).max(Duration::from_millis(500)))
        .reconnect_delay_callback(Backoff::delay)
        .max_reconnects(None)
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                let _ = events.send(event);
            }
        })
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

impl NatsBackplane {
    /// Connects (retrying within [`super::BOOT_WINDOW`]), claims a node id, subscribes.
    pub(crate) async fn connect(
        config: &ClusterConfig,
        local: LocalNode,
    ) -> Result<Self, BootError> {
        let url = super::masked(&config.url);
        let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
        // Below ~100 ms a lease cannot be renewed reliably over a real network.
        let lease = Duration::from_millis(config.lease_ms.max(100));
        let prefix = sanitize(&config.prefix);
        if prefix != config.prefix {
            tracing::warn!(prefix = %config.prefix, used = %prefix, "cluster prefix has characters NATS subjects cannot carry");
        }
        let bucket = format!("{prefix}_nodes");
        let boot_deadline = Instant::now() + super::BOOT_WINDOW;

        let (events_tx, events) = mpsc::unbounded_channel();
        let mut backoff = Backoff::new();
        let client = loop {
            let attempt = async_nats::connect_with_options(
                config.url.as_str(),
                options(events_tx.clone(), timeout, lease),
            );
            let error =
                match tokio::time::timeout(timeout.max(Duration::from_secs(1)), attempt).await {
                    Ok(Ok(client)) => break client,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "connecting timed out".to_string(),
                };
            let delay = backoff.next_delay();
            if Instant::now() + delay >= boot_deadline {
                return Err(BootError::Cluster(format!(
                    "cannot reach NATS at {url}: {error}"
                )));
            }
            tracing::warn!(url = %url, %error, "cluster broker not reachable yet; retrying");
            tokio::time::sleep(delay).await;
        };
        drop(events_tx);

        let mut js = jetstream::new(client.clone());
        js.set_timeout(timeout);
        // JetStream may come up a moment after the server accepts connections.
        let store = loop {
            let error = match ensure_bucket(&js, &bucket, lease).await {
                Ok(store) => break store,
                Err(error) => error,
            };
            let delay = backoff.next_delay();
            if Instant::now() + delay >= boot_deadline {
                return Err(BootError::Cluster(format!(
                    "cannot open the lease bucket `{bucket}` at {url} (is JetStream enabled, `nats-server -js`?): {error}"
                )));
            }
            tracing::warn!(url = %url, %error, "cluster lease bucket not available yet; retrying");
            tokio::time::sleep(delay).await;
        };
        let token = Bytes::from(super::lease_token());
        let start = super::random_start();
        let mut claimed = None;
        let max = u32::from(MAX_NODE);
        for i in 0..max {
            // Below `max + 1`, which fits a `u16`.
            let id = ((u32::from(start) - 1 + i) % max + 1) as u16;
            match store.create(key(NodeId(id)), token.clone()).await {
                Ok(revision) => {
                    claimed = Some((NodeId(id), revision));
                    break;
                }
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(BootError::Cluster(format!(
                        "claiming a node id at {url} failed: {e}"
                    )));
                }
            }
        }
        let Some((node, revision)) = claimed else {
            return Err(BootError::Cluster(format!(
                "every node id of prefix `{prefix}` at {url} is taken"
            )));
        };

        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client.subscribe(subject.clone()).await.map_err(|e| {
                    BootError::Cluster(format!("cannot subscribe to `{subject}`: {e}"))
                })
            }
        };
        let requests = subscribe(format!("{prefix}.node.{}", node.0)).await?;
        let casts = subscribe(format!("{prefix}.all")).await?;

        let shared = Arc::new(Shared {
            client,
            js,
            store: RwLock::new(store),
            bucket,
            url,
            node,
            token,
            revision: AtomicU64::new(revision),
            prefix,
            lease,
            timeout,
            local,
            ready: AtomicBool::new(true),
        });
        // `flush` only writes the socket; it is not a round trip. The server handles one
        // connection's messages in order, so once this renewal (a JetStream publish on the same
        // connection) is acknowledged, the subscriptions are in place: no other node can get
        // "no responders" for this one after boot returns.
        shared
            .renew()
            .await
            .map_err(|e| BootError::Cluster(format!("NATS at {}: {e}", shared.url)))?;
        let (stop, stop_rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(answer_requests(shared.clone(), requests)),
            tokio::spawn(apply_casts(shared.clone(), casts)),
            tokio::spawn(supervise(shared.clone(), events, stop_rx)),
        ];
        tracing::info!(node = %node, url = %shared.url, prefix = %shared.prefix, "cluster backplane ready (nats)");
        Ok(Self {
            shared,
            stop,
            tasks: Mutex::new(tasks),
        })
    }

    async fn request_inner(&self, node: NodeId, command: Command) -> Result<Reply, SendError> {
        let s = &*self.shared;
        if !s.is_connected() {
            return Err(s.unavailable());
        }
        let started = Instant::now();
        let dead = dead_reply(&command);
        let frame = wire::encode(&Frame::Request {
            origin: s.node,
            id: 0,
            command,
        })?;
        let subject = format!("{}.node.{}", s.prefix, node.0);
        let kind = match tokio::time::timeout(s.timeout, s.client.request(subject, frame)).await {
            Ok(Ok(message)) => {
                return match wire::decode(message.payload) {
                    Ok(Frame::Reply { reply, .. }) => Ok(reply),
                    Ok(_) => Err(SendError::BrokerUnavailable(format!(
                        "node {node} answered with a non-reply frame"
                    ))),
                    Err(e) => Err(SendError::BrokerUnavailable(format!(
                        "node {node} answered a malformed frame: {e}"
                    ))),
                };
            }
            Ok(Err(e)) => e.kind(),
            Err(_) => RequestErrorKind::TimedOut,
        };
        match kind {
            // Nobody subscribes to the node's subject: dead if its lease is gone too, otherwise
            // crashed less than a lease ago or reconnecting, and unreachable right now.
            RequestErrorKind::NoResponders => {
                if s.lease_alive(node).await? {
                    Err(timed_out(node, started))
                } else {
                    Ok(dead)
                }
            }
            // Subscribed but silent: partitioned from the broker, or overloaded. A lease that is
            // gone settles it (dead); the check is bounded by a quarter of the timeout, so the
            // whole call stays within 1.25 × request_timeout_ms.
            RequestErrorKind::TimedOut => {
                let check = tokio::time::timeout(s.timeout / 4, s.lease_alive(node)).await;
                match check {
                    Ok(Ok(false)) => Ok(dead),
                    _ => Err(timed_out(node, started)),
                }
            }
            other => Err(SendError::BrokerUnavailable(format!(
                "request to node {node} failed: {other:?}"
            ))),
        }
    }

    async fn live_nodes_inner(&self) -> Result<Vec<NodeId>, SendError> {
        let s = &*self.shared;
        if !s.is_connected() {
            return Err(s.unavailable());
        }
        let store = s.store.read().clone();
        let keys = async {
            let keys = store.keys().await.map_err(|e| e.to_string())?;
            keys.try_collect::<Vec<String>>()
                .await
                .map_err(|e| e.to_string())
        };
        let keys = tokio::time::timeout(s.timeout, keys)
            .await
            .map_err(|_| {
                SendError::BrokerUnavailable(format!(
                    "listing nodes took over {} ms",
                    s.timeout.as_millis()
                ))
            })?
            .map_err(SendError::BrokerUnavailable)?;
        Ok(keys
            .iter()
            .filter_map(|k| k.strip_prefix('n')?.parse().ok())
            .map(NodeId)
            .collect())
    }
}

fn timed_out(node: NodeId, started: Instant) -> SendError {
    SendError::Timeout {
        node,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

impl Shared {
    fn unavailable(&self) -> SendError {
        SendError::BrokerUnavailable(format!("not connected to NATS at {}", self.url))
    }

    /// Ready, and the client agrees: its state flips before our event handler runs.
    fn is_connected(&self) -> bool {
        self.ready.load(Ordering::Acquire)
            && self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn set_ready(&self, ready: bool) -> bool {
        self.ready.swap(ready, Ordering::AcqRel)
    }

    async fn lease_alive(&self, node: NodeId) -> Result<bool, SendError> {
        let store = self.store.read().clone();
        match tokio::time::timeout(self.timeout, store.entry(key(node))).await {
            Ok(Ok(entry)) => Ok(entry.is_some_and(|e| e.operation == kv::Operation::Put)),
            Ok(Err(e)) => Err(SendError::BrokerUnavailable(format!(
                "reading node {node}'s lease failed: {e}"
            ))),
            Err(_) => Err(SendError::BrokerUnavailable(format!(
                "reading node {node}'s lease took over {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Renews the lease by compare-and-set on its last revision; falls back to re-asserting
    /// it when the revision moved (expired, or the server lost the bucket).
    async fn renew(&self) -> Result<(), String> {
        let store = self.store.read().clone();
        let revision = self.revision.load(Ordering::Acquire);
        let update = tokio::time::timeout(
            self.timeout,
            store.update(key(self.node), self.token.clone(), revision),
        )
        .await;
        match update {
            Ok(Ok(revision)) => {
                self.revision.store(revision, Ordering::Release);
                Ok(())
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                self.reassert().await
            }
            Ok(Err(e)) => Err(format!("renewing the lease failed: {e}")),
            Err(_) => Err(format!(
                "renewing the lease took over {} ms",
                self.timeout.as_millis()
            )),
        }
    }

    /// Makes sure the bucket exists and this node holds its key, taking it again if it expired.
    async fn reassert(&self) -> Result<(), String> {
        let work = async {
            let store = ensure_bucket(&self.js, &self.bucket, self.lease).await?;
            *self.store.write() = store.clone();
            let key = key(self.node);
            let revision = match store.entry(key.clone()).await.map_err(|e| e.to_string())? {
                Some(entry)
                    if entry.operation == kv::Operation::Put && entry.value != self.token =>
                {
                    return Err(format!(
                        "node id {} was taken by another process while this node could not renew its lease",
                        self.node
                    ));
                }
                Some(entry) if entry.operation == kv::Operation::Put => store
                    .update(key, self.token.clone(), entry.revision)
                    .await
                    .map_err(|e| e.to_string())?,
                _ => {
                    let revision = store
                        .create(key, self.token.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                    tracing::info!(node = %self.node, "re-took the node lease (it had expired or the broker restarted)");
                    revision
                }
            };
            // Those were round trips after the client's re-subscriptions, so the server has them.
            self.revision.store(revision, Ordering::Release);
            Ok(())
        };
        tokio::time::timeout(self.timeout * 2, work)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "re-asserting the lease took over {} ms",
                    (self.timeout * 2).as_millis()
                ))
            })
    }

    async fn release(&self) {
        let store = self.store.read().clone();
        let revision = self.revision.load(Ordering::Acquire);
        let delete = store.delete_expect_revision(key(self.node), Some(revision));
        if let Ok(Err(e)) = tokio::time::timeout(self.timeout, delete).await {
            tracing::debug!(node = %self.node, error = %e, "could not release the node lease; it expires by itself");
        }
    }
}

/// Answers requests in arrival order: applying only queues into local outboxes, so one slow
/// client never holds up the others, and pushes to one connection stay in order.
async fn answer_requests(s: Arc<Shared>, mut requests: async_nats::Subscriber) {
    while let Some(message) = requests.next().await {
        let Some(reply_to) = message.reply else {
            continue;
        };
        let frame = match wire::decode(message.payload) {
            Ok(Frame::Request { id, command, .. }) => {
                let reply = s.local.apply(command);
                wire::encode(&Frame::Reply {
                    origin: s.node,
                    id,
                    reply,
                })
            }
            Ok(_) | Err(_) => {
                s.local.count_error();
                continue;
            }
        };
        match frame {
            Ok(frame) => {
                if s.client.publish(reply_to, frame).await.is_err() {
                    s.local.count_error();
                }
            }
            Err(_) => s.local.count_error(),
        }
    }
}

async fn apply_casts(s: Arc<Shared>, mut casts: async_nats::Subscriber) {
    while let Some(message) = casts.next().await {
        match wire::decode(message.payload) {
            // This node delivered its own casts locally before publishing them.
            Ok(Frame::Cast { origin, command }) if origin != s.node => {
                let _ = s.local.apply(command);
            }
            Ok(_) => {}
            Err(_) => s.local.count_error(),
        }
    }
}

async fn supervise(
    s: Arc<Shared>,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(super::renew_every(s.lease));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut lost_at: Option<Instant> = None;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Disconnected) => {
                    if s.set_ready(false) {
                        lost_at = Some(Instant::now());
                        s.local.count_error();
                        tracing::warn!(node = %s.node, url = %s.url, "lost the cluster broker; local delivery goes on, remote calls fail until it is back");
                    }
                }
                Some(Event::Connected) => {
                    if !s.ready.load(Ordering::Acquire) {
                        come_back(&s, &mut lost_at).await;
                    }
                }
                Some(Event::Closed) | None => {
                    s.set_ready(false);
                    return;
                }
                Some(other) => {
                    s.local.count_error();
                    tracing::debug!(node = %s.node, event = %other, "NATS client event");
                }
            },
            _ = tick.tick() => {
                if s.client.connection_state() != async_nats::connection::State::Connected {
                    continue;
                }
                if s.ready.load(Ordering::Acquire) {
                    if let Err(reason) = s.renew().await {
                        s.local.count_error();
                        s.set_ready(false);
                        lost_at.get_or_insert_with(Instant::now);
                        tracing::warn!(node = %s.node, %reason, "cluster lease not renewed; reporting not ready until it is");
                    }
                } else {
                    come_back(&s, &mut lost_at).await;
                }
            }
            () = super::stopped(&mut stop) => {
                s.set_ready(false);
                return;
            }
        }
    }
}

/// After a reconnect: the client re-subscribed already; re-assert the lease, then report ready.
async fn come_back(s: &Shared, lost_at: &mut Option<Instant>) {
    match s.reassert().await {
        Ok(()) => {
            s.set_ready(true);
            let down_ms = lost_at
                .take()
                .map(|t| t.elapsed().as_millis() as u64)
                .unwrap_or(0);
            tracing::info!(node = %s.node, url = %s.url, down_ms, "reconnected to the cluster broker and re-subscribed");
        }
        Err(reason) => {
            s.local.count_error();
            tracing::warn!(node = %s.node, %reason, "reconnected to the cluster broker but could not re-assert the lease; retrying");
        }
    }
}

impl Backplane for NatsBackplane {
    fn node(&self) -> NodeId {
        self.shared.node
    }

    fn request(&self, node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>> {
        async move {
            self.shared
                .local
                .counted(self.request_inner(node, command).await)
        }
        .boxed()
    }

    fn publish(&self, command: Command) -> BoxFuture<'_, Result<(), SendError>> {
        let s = &*self.shared;
        let result = if s.is_connected() {
            wire::encode(&Frame::Cast {
                origin: s.node,
                command,
            })
            .map_err(SendError::from)
            .and_then(|frame| {
                // Polled once: the client queues or refuses at once, so a handler broadcasting
                // never waits on a slow broker.
                match s
                    .client
                    .publish(format!("{}.all", s.prefix), frame)
                    .now_or_never()
                {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(SendError::BrokerUnavailable(e.to_string())),
                    None => Err(SendError::BrokerUnavailable(
                        "the NATS client's outbound queue is full".into(),
                    )),
                }
            })
        } else {
            Err(s.unavailable())
        };
        let result = s.local.counted(result);
        async move { result }.boxed()
    }

    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<NodeId>, SendError>> {
        async move { self.shared.local.counted(self.live_nodes_inner().await) }.boxed()
    }

    fn is_ready(&self) -> bool {
        self.shared.is_connected()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            let s = &*self.shared;
            let _ = self.stop.send(true);
            let mut tasks = std::mem::take(&mut *self.tasks.lock());
            let supervisor = tasks.pop();
            // Dropping the subscribers queues their unsubscribes ahead of the lease deletion
            // on the same connection; once the deletion is acknowledged the server has both,
            // so from then on a request to this node gets "no responders", finds no lease,
            // and is answered as for a dead node at once.
            for task in tasks {
                task.abort();
                let _ = task.await;
            }
            if let Some(supervisor) = supervisor {
                let abort = supervisor.abort_handle();
                if tokio::time::timeout(s.timeout, supervisor).await.is_err() {
                    abort.abort();
                }
            }
            s.release().await;
            let _ = tokio::time::timeout(s.timeout, s.client.drain()).await;
        }
        .boxed()
    }
}

impl Drop for NatsBackplane {
    fn drop(&mut self) {
        // An app dropped without `shutdown` still leaves the cluster: no more answers, no more
        // renewals, and its lease expires by itself.
        let _ = self.stop.send(true);
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}
