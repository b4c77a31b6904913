//! The Redis backplane: pub/sub for messages, keys with `PX` leases for node ids.
//!
//! Channels: `{prefix}.node.{id}` (requests to a node, replies to its requests) and
//! `{prefix}.all` (casts). Keys: `{prefix}:node:{id}` (the node's lease, value = a random token
//! of this process) and `{prefix}:nodes` (a sorted set of live node ids scored by lease expiry,
//! itself under the longest lease, used to list live nodes without `SCAN`).
//!
//! Two connections per node: a multiplexed one for commands and a dedicated pub/sub one. A
//! supervisor task owns one *session* at a time (connect, assert the lease, subscribe, then
//! read, write and renew concurrently); when anything in it fails, it marks the node not ready,
//! fails every pending call at once, and starts a new session after an exponential backoff.
//!
//! Requests go out through one writer that batches everything queued into one pipeline, so
//! under load many pushes share one round trip, and messages from this node to one connection
//! keep their order. Each request is published by a script that first checks the target's
//! lease: a dead node is answered for at once (`exists` → false, `push` → not connected) instead
//! of after a timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};
use parking_lot::Mutex;
use redis::aio::{MultiplexedConnection, PubSubStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::wire::{self, Frame};
use super::{Backoff, Backplane, Command, LocalNode, Reply, dead_reply};
use crate::config::ClusterConfig;
use crate::fd::MAX_NODE;
use crate::{BootError, NodeId, SendError};

/// Claims the first free id from a random start. One script, so the scan costs one round trip
/// and `SET NX` keeps it atomic per id: two nodes starting together never share an id.
const CLAIM: &str = r"
local prefix, token, lease, start = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max = tonumber(ARGV[5])
for i = 0, max - 1 do
  local id = (start - 1 + i) % max + 1
  if redis.call('SET', prefix .. ':node:' .. id, token, 'NX', 'PX', lease) then
    return id
  end
end
return 0
";

/// Renews this node's lease if it still holds it (or re-takes it if it expired, e.g. after a
/// broker restart), and keeps the live-node index. Returns 0 when another process holds the id.
const LEASE: &str = r"
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', lease)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + lease, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < lease then redis.call('PEXPIRE', KEYS[2], lease) end
if held then return 1 end
return 2
";

/// Live node ids by the index, using the broker's clock so nodes' clocks need not agree.
const LIVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
";

/// Publishes a request only to a node whose lease is alive: -1 = dead, else the subscriber count.
const SEND: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
";

/// Gives the id back on a clean shutdown, so other nodes see the node gone at once.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
";

/// Items one writer pipeline carries at most; bounds the size of one Redis round trip.
const BATCH: usize = 512;
/// Outbound queue length: requests wait (bounded by their timeout) when it is full, casts fail.
const QUEUE: usize = 16_384;

/// Names of this cluster's keys and channels.
#[derive(Debug)]
struct Names {
    prefix: String,
}

impl Names {
    fn lease(&self, node: NodeId) -> String {
        format!("{}:node:{}", self.prefix, node.0)
    }
    fn index(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    fn node_channel(&self, node: NodeId) -> String {
        format!("{}.node.{}", self.prefix, node.0)
    }
    fn all_channel(&self) -> String {
        format!("{}.all", self.prefix)
    }
}

enum Outgoing {
    /// Published only if the target's lease is alive; `sent` gets the script's answer.
    Request {
        node: NodeId,
        frame: Bytes,
        deadline: Instant,
        sent: oneshot::Sender<Result<i64, SendError>>,
    },
    /// A cast or a reply.
    Publish {
        channel: String,
        frame: Bytes,
        deadline: Instant,
    },
}

impl Outgoing {
    fn deadline(&self) -> Instant {
        match self {
            Outgoing::Request { deadline, .. } | Outgoing::Publish { deadline, .. } => *deadline,
        }
    }
}

struct Shared {
    client: redis::Client,
    url: String,
    node: NodeId,
    token: String,
    names: Names,
    lease: Duration,
    timeout: Duration,
    local: LocalNode,
    ready: AtomicBool,
    ready_changed: Notify,
    outbox: mpsc::Sender<Outgoing>,
    /// Requests waiting for a reply, by correlation id.
    pending: DashMap<u64, oneshot::Sender<Reply>>,
    next_id: AtomicU64,
    /// The session's command connection, for calls outside the writer (live nodes).
    conn: Mutex<Option<MultiplexedConnection>>,
}

/// Removes a pending request when its caller stops waiting (reply, timeout or cancellation).
struct PendingGuard<'a> {
    pending: &'a DashMap<u64, oneshot::Sender<Reply>>,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending.remove(&self.id);
    }
}

enum Outcome {
    Stopped,
    Failed(String),
}

/// The Redis backplane of one node.
pub(crate) struct RedisBackplane {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl RedisBackplane {
    /// Claims a node id (retrying within [`super::BOOT_WINDOW`] while the broker is unreachable),
    /// then starts the supervisor and waits until it is subscribed.
    pub(crate) async fn connect(
        config: &ClusterConfig,
        local: LocalNode,
    ) -> Result<Self, BootError> {
        let url = super::masked(&config.url);
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| BootError::Cluster(format!("`{url}` is not a usable Redis URL: {e}")))?;
        let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
        // Below ~100 ms a lease cannot be renewed reliably over a real network.
        let lease = Duration::from_millis(config.lease_ms.max(100));
        let names = Names {
            prefix: config.prefix.clone(),
        };
        let token = super::lease_token();
        let boot_deadline = Instant::now() + super::BOOT_WINDOW;

        let mut backoff = Backoff::new();
        let node = loop {
            match claim(&client, &names, &token, lease, timeout).await {
                Ok(Some(node)) => break node,
                Ok(None) => {
                    return Err(BootError::Cluster(format!(
                        "every node id of prefix `{}` at {url} is taken",
                        names.prefix
                    )));
                }
                Err(reason) => {
                    let delay = backoff.next_delay();
                    if Instant::now() + delay >= boot_deadline {
                        return Err(BootError::Cluster(format!(
                            "cannot reach Redis at {url}: {reason}"
                        )));
                    }
                    tracing::warn!(url = %url, %reason, "cluster broker not reachable yet; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        };

        let (outbox, queue) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            client,
            url,
            node,
            token,
            names,
            lease,
            timeout,
            local,
            ready: AtomicBool::new(false),
            ready_changed: Notify::new(),
            outbox,
            pending: DashMap::new(),
            next_id: AtomicU64::new(1),
            conn: Mutex::new(None),
        });
        let (stop, stop_rx) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(shared.clone(), queue, stop_rx));
        let backplane = Self {
            shared,
            stop,
            supervisor: Mutex::new(Some(supervisor)),
        };

        let ready = async {
            loop {
                let changed = backplane.shared.ready_changed.notified();
                if backplane.is_ready() {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout_at(boot_deadline, ready).await.is_err() {
            let url = backplane.shared.url.clone();
            backplane.shutdown().await;
            return Err(BootError::Cluster(format!(
                "claimed node {node} at {url} but could not subscribe in time"
            )));
        }
        tracing::info!(node = %node, url = %backplane.shared.url, prefix = %config.prefix, "cluster backplane ready (redis)");
        Ok(backplane)
    }

    async fn request_inner(&self, node: NodeId, command: Command) -> Result<Reply, SendError> {
        let s = &*self.shared;
        let started = Instant::now();
        let deadline = started + s.timeout;
        if !s.ready.load(Ordering::Acquire) {
            return Err(s.unavailable());
        }
        let dead = dead_reply(&command);
        let id = s.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode(&Frame::Request {
            origin: s.node,
            id,
            command,
        })?;
        let (reply_tx, reply_rx) = oneshot::channel();
        s.pending.insert(id, reply_tx);
        let _guard = PendingGuard {
            pending: &s.pending,
            id,
        };
        let (sent_tx, sent_rx) = oneshot::channel();
        let item = Outgoing::Request {
            node,
            frame,
            deadline,
            sent: sent_tx,
        };
        match tokio::time::timeout_at(deadline, s.outbox.send(item)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(s.unavailable()),
            Err(_) => return Err(timed_out(node, started)),
        }
        let receivers = match tokio::time::timeout_at(deadline, sent_rx).await {
            Ok(Ok(result)) => result?,
            // The writer dropped the item: the session ended under it.
            Ok(Err(_)) => return Err(s.unavailable()),
            Err(_) => return Err(timed_out(node, started)),
        };
        match receivers {
            // The lease is gone: the node is dead and holds nothing.
            n if n < 0 => return Ok(dead),
            // Alive by its lease but not subscribed: crashed less than a lease ago, or
            // reconnecting. Nobody can answer for it now; say so without waiting.
            0 => return Err(timed_out(node, started)),
            _ => {}
        }
        match tokio::time::timeout_at(deadline, reply_rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(s.unavailable()),
            Err(_) => Err(timed_out(node, started)),
        }
    }

    async fn live_nodes_inner(&self) -> Result<Vec<NodeId>, SendError> {
        let s = &*self.shared;
        let conn = s.conn.lock().clone();
        let Some(mut conn) = conn.filter(|_| s.ready.load(Ordering::Acquire)) else {
            return Err(s.unavailable());
        };
        let ids: Vec<String> = tokio::time::timeout(
            s.timeout,
            redis::cmd("EVAL")
                .arg(LIVE)
                .arg(1)
                .arg(s.names.index())
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| {
            SendError::BrokerUnavailable(format!(
                "Redis did not answer within {} ms",
                s.timeout.as_millis()
            ))
        })?
        .map_err(|e| SendError::BrokerUnavailable(e.to_string()))?;
        Ok(ids
            .iter()
            .filter_map(|id| id.parse().ok())
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
        SendError::BrokerUnavailable(format!("not connected to Redis at {}", self.url))
    }

    fn set_ready(&self, ready: bool) -> bool {
        let was = self.ready.swap(ready, Ordering::AcqRel);
        self.ready_changed.notify_waiters();
        was
    }

    /// Handles one frame from this node's channel or the shared one. Never awaits: the pub/sub
    /// connection is read by one loop, and applying a command only queues into local outboxes.
    fn handle(&self, frame: Frame) {
        match frame {
            Frame::Request {
                origin,
                id,
                command,
            } => {
                let reply = self.local.apply(command);
                let sent = wire::encode(&Frame::Reply {
                    origin: self.node,
                    id,
                    reply,
                })
                .ok()
                .and_then(|frame| {
                    let channel = self.names.node_channel(origin);
                    let deadline = Instant::now() + self.timeout;
                    self.outbox
                        .try_send(Outgoing::Publish {
                            channel,
                            frame,
                            deadline,
                        })
                        .ok()
                });
                if sent.is_none() {
                    // The requester times out; counted here, where the cause is known.
                    self.local.count_error();
                }
            }
            Frame::Reply { id, reply, .. } => {
                if let Some((_, waiter)) = self.pending.remove(&id) {
                    let _ = waiter.send(reply);
                }
            }
            Frame::Cast { origin, command } => {
                // Casts go to `{prefix}.all`, which this node also hears; it delivered locally already.
                if origin != self.node {
                    let _ = self.local.apply(command);
                }
            }
        }
    }

    async fn renew(&self, conn: &mut MultiplexedConnection) -> Result<(), String> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(LEASE)
            .arg(2)
            .arg(self.names.lease(self.node))
            .arg(self.names.index())
            .arg(&self.token)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .arg(self.node.0);
        let call = cmd.query_async::<i64>(conn);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(0)) => Err(format!(
                "node id {} was taken by another process while this node could not renew its lease",
                self.node
            )),
            Ok(Ok(2)) => {
                tracing::info!(node = %self.node, "re-took the node lease (it had expired or the broker restarted)");
                Ok(())
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("renewing the lease failed: {e}")),
            Err(_) => Err(format!(
                "Redis did not answer within {} ms",
                self.timeout.as_millis()
            )),
        }
    }

    async fn release(&self, conn: &mut MultiplexedConnection) {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RELEASE)
            .arg(2)
            .arg(self.names.lease(self.node))
            .arg(self.names.index())
            .arg(&self.token)
            .arg(self.node.0);
        let call = cmd.query_async::<i64>(conn);
        let error = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        tracing::debug!(node = %self.node, %error, "could not release the node lease; it expires by itself");
    }
}

async fn connect_command(
    client: &redis::Client,
    timeout: Duration,
) -> Result<MultiplexedConnection, String> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| e.to_string())
}

async fn claim(
    client: &redis::Client,
    names: &Names,
    token: &str,
    lease: Duration,
    timeout: Duration,
) -> Result<Option<NodeId>, String> {
    let mut conn = connect_command(client, timeout).await?;
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(CLAIM)
        .arg(0)
        .arg(&names.prefix)
        .arg(token)
        .arg(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
        .arg(super::random_start())
        .arg(MAX_NODE);
    let call = cmd.query_async::<i64>(&mut conn);
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(id)) => Ok(u16::try_from(id).ok().filter(|id| *id != 0).map(NodeId)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn supervise(
    s: Arc<Shared>,
    mut queue: mpsc::Receiver<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new();
    let mut lost_at: Option<Instant> = None;
    loop {
        let outcome = session(&s, &mut queue, &mut stop, &mut backoff, lost_at).await;
        let was_ready = s.set_ready(false);
        *s.conn.lock() = None;
        // Every caller waiting on this session learns now, not at its timeout.
        s.pending.clear();
        while queue.try_recv().is_ok() {}
        let reason = match outcome {
            Outcome::Stopped => return,
            Outcome::Failed(reason) => reason,
        };
        s.local.count_error();
        if was_ready {
            lost_at = Some(Instant::now());
            tracing::warn!(node = %s.node, url = %s.url, %reason, "lost the cluster broker; local delivery goes on, remote calls fail until it is back");
        } else {
            tracing::debug!(node = %s.node, url = %s.url, %reason, "cluster broker still unreachable");
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = super::stopped(&mut stop) => return,
        }
    }
}

async fn session(
    s: &Shared,
    queue: &mut mpsc::Receiver<Outgoing>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    lost_at: Option<Instant>,
) -> Outcome {
    let setup = async {
        let mut conn = connect_command(&s.client, s.timeout).await?;
        let mut pubsub = tokio::time::timeout(s.timeout, s.client.get_async_pubsub())
            .await
            .map_err(|_| "connecting for pub/sub timed out".to_string())?
            .map_err(|e| e.to_string())?;
        s.renew(&mut conn).await?;
        for channel in [s.names.node_channel(s.node), s.names.all_channel()] {
            tokio::time::timeout(s.timeout, pubsub.subscribe(&channel))
                .await
                .map_err(|_| format!("subscribing to {channel} timed out"))?
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>((conn, pubsub))
    };
    let (conn, pubsub) = tokio::select! {
        result = setup => match result {
            Ok(parts) => parts,
            Err(reason) => return Outcome::Failed(reason),
        },
        () = super::stopped(stop) => return Outcome::Stopped,
    };
    // The sink must live as long as the stream: dropping it ends the subscription.
    let (_sink, stream) = pubsub.split();
    *s.conn.lock() = Some(conn.clone());
    s.set_ready(true);
    backoff.reset();
    if let Some(lost_at) = lost_at {
        tracing::info!(node = %s.node, url = %s.url, down_ms = lost_at.elapsed().as_millis() as u64, "reconnected to the cluster broker and re-subscribed");
    }
    let mut lease_conn = conn.clone();
    tokio::select! {
        reason = read_loop(s, stream) => Outcome::Failed(reason),
        reason = write_loop(s, queue, conn) => Outcome::Failed(reason),
        reason = lease_loop(s, lease_conn.clone()) => Outcome::Failed(reason),
        () = super::stopped(stop) => {
            s.set_ready(false);
            s.release(&mut lease_conn).await;
            Outcome::Stopped
        }
    }
}

async fn read_loop(s: &Shared, mut stream: PubSubStream) -> String {
    while let Some(message) = stream.next().await {
        match wire::decode(Bytes::copy_from_slice(message.get_payload_bytes())) {
            Ok(frame) => s.handle(frame),
            Err(error) => {
                s.local.count_error();
                tracing::debug!(channel = message.get_channel_name(), %error, "ignored a malformed cluster frame");
            }
        }
    }
    "the pub/sub connection closed".into()
}

async fn write_loop(
    s: &Shared,
    queue: &mut mpsc::Receiver<Outgoing>,
    mut conn: MultiplexedConnection,
) -> String {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if queue.recv_many(&mut batch, BATCH).await == 0 {
            return "the outbound queue closed".into();
        }
        // An item past its deadline has a caller that already gave up: sending it now would
        // deliver a push its sender was told had failed.
        let now = Instant::now();
        batch.retain(|item| item.deadline() > now);
        if batch.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for item in &batch {
            match item {
                Outgoing::Request { node, frame, .. } => {
                    pipe.cmd("EVAL")
                        .arg(SEND)
                        .arg(1)
                        .arg(s.names.lease(*node))
                        .arg(s.names.node_channel(*node))
                        .arg(&frame[..]);
                }
                Outgoing::Publish { channel, frame, .. } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(&frame[..]);
                }
            }
        }
        let failure =
            match tokio::time::timeout(s.timeout, pipe.query_async::<Vec<i64>>(&mut conn)).await {
                Ok(Ok(results)) => {
                    for (item, receivers) in batch.drain(..).zip(results) {
                        if let Outgoing::Request { sent, .. } = item {
                            let _ = sent.send(Ok(receivers));
                        }
                    }
                    continue;
                }
                Ok(Err(e)) => format!("publishing failed: {e}"),
                Err(_) => format!(
                    "Redis did not answer a publish within {} ms",
                    s.timeout.as_millis()
                ),
            };
        for item in batch.drain(..) {
            if let Outgoing::Request { sent, .. } = item {
                let _ = sent.send(Err(SendError::BrokerUnavailable(failure.clone())));
            }
        }
        return failure;
    }
}

async fn lease_loop(s: &Shared, mut conn: MultiplexedConnection) -> String {
    let mut tick = tokio::time::interval(super::renew_every(s.lease));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the session renewed just now.
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(reason) = s.renew(&mut conn).await {
            return reason;
        }
    }
}

impl Backplane for RedisBackplane {
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
        let result = if s.ready.load(Ordering::Acquire) {
            wire::encode(&Frame::Cast {
                origin: s.node,
                command,
            })
            .map_err(SendError::from)
            .and_then(|frame| {
                let item = Outgoing::Publish {
                    channel: s.names.all_channel(),
                    frame,
                    deadline: Instant::now() + s.timeout,
                };
                // Never waits: a handler broadcasting must not stall on a slow broker.
                s.outbox.try_send(item).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => {
                        SendError::BrokerUnavailable("the cluster outbound queue is full".into())
                    }
                    mpsc::error::TrySendError::Closed(_) => s.unavailable(),
                })
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
        self.shared.ready.load(Ordering::Acquire)
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            let _ = self.stop.send(true);
            let handle = self.supervisor.lock().take();
            if let Some(handle) = handle {
                // Releasing the lease is one bounded call; the supervisor is aborted past that.
                let abort = handle.abort_handle();
                if tokio::time::timeout(self.shared.timeout * 2, handle)
                    .await
                    .is_err()
                {
                    abort.abort();
                }
            }
        }
        .boxed()
    }
}

impl Drop for RedisBackplane {
    fn drop(&mut self) {
        // An app dropped without `shutdown` still stops renewing its lease and lets it expire.
        let _ = self.stop.send(true);
    }
}
