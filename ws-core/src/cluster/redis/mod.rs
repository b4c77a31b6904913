//! The Redis backplane: pub/sub for messages, keys with `PX` leases for node ids.
//!
//! Channels: `{prefix}.node.{id}` (requests to a node, replies to its requests) and
//! `{prefix}.all` (casts). Keys: `{prefix}:node:{id}` (the node's lease, value = a random token
//! of this process) and `{prefix}:nodes` (a sorted set of live node ids scored by lease expiry,
//! itself under the longest lease, used to list live nodes without `SCAN`).
//!
//! Two connections per session: a multiplexed one for commands and a dedicated pub/sub one.
//! Redis clients do not reconnect by themselves, so every session opens both anew under the
//! shared supervisor, which starts the next one after a backoff when anything fails.
//!
//! Requests go out through one writer ([`writer`]). Each request is published by a script that
//! first checks the target's lease: a dead node is answered for at once (`exists` → false,
//! `push` → not connected) instead of after a timeout.

pub(crate) mod connect;
mod scripts;
mod writer;

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{MultiplexedConnection, PubSub, PubSubStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use self::scripts::{CLAIM, LEASE, LIVE, Names, RELEASE};
use self::writer::{Outgoing, QUEUE, write_loop};
use crate::cluster::broker::{Broker, Core, Fault, timed_out};
use crate::cluster::command::{Command, Reply, dead_reply};
use crate::cluster::lease;
use crate::cluster::wire::{self, Frame};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::fd::MAX_NODE;
use crate::{NodeId, SendError};

/// What is specific to Redis in a node's backplane.
pub(crate) struct Redis {
    client: redis::Client,
    names: Names,
    outbox: mpsc::Sender<Outgoing>,
    /// The writer's end of `outbox`; one session's writer at a time holds it.
    queue: tokio::sync::Mutex<mpsc::Receiver<Outgoing>>,
    /// Requests waiting for a reply, by correlation id.
    pending: DashMap<u64, oneshot::Sender<Reply>>,
    next_id: AtomicU64,
    /// The session's command connection, for calls outside the writer (lease, live nodes).
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The node id whose channel the session subscribed to.
    serving: AtomicU16,
}

/// The two connections of one session.
pub(crate) struct Session {
    conn: MultiplexedConnection,
    pubsub: PubSub,
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

impl Broker for Redis {
    const NAME: &'static str = "Redis";
    type Session = Session;

    async fn new(config: &ClusterConfig, core: &Core) -> Result<Self, ClusterError> {
        let client = connect::client(config, &core.url)?;
        let (outbox, queue) = mpsc::channel(QUEUE);
        Ok(Self {
            client,
            names: Names {
                prefix: config.prefix.clone(),
            },
            outbox,
            queue: tokio::sync::Mutex::new(queue),
            pending: DashMap::new(),
            next_id: AtomicU64::new(1),
            conn: Mutex::new(None),
            serving: AtomicU16::new(0),
        })
    }

    async fn open(&self, core: &Core) -> Result<Session, Fault> {
        let mut conn = connect::command(&self.client, core).await?;
        if core.claimed().is_none() {
            let sent = Instant::now();
            match claim(&mut conn, &self.names, core).await? {
                Some(node) => {
                    core.set_claimed(node, sent);
                    tracing::info!(node = %node, url = %core.url, "claimed a node id");
                }
                None => {
                    return Err(Fault::Down(
                        ClusterError::NoFreeNodeId {
                            prefix: self.names.prefix.clone(),
                            url: core.url.clone(),
                        }
                        .to_string(),
                    ));
                }
            }
        }
        let node = core.node();
        let mut pubsub = connect::pubsub(&self.client, core).await?;
        self.renew_on(core, &mut conn).await?;
        for channel in [self.names.node_channel(node), self.names.all_channel()] {
            tokio::time::timeout(core.timeout, pubsub.subscribe(&channel))
                .await
                .map_err(|_| format!("subscribing to {channel} timed out"))?
                .map_err(|e| connect::fault(core, "subscribing", &e))?;
        }
        self.serving.store(node.0, Ordering::Release);
        *self.conn.lock() = Some(conn.clone());
        Ok(Session { conn, pubsub })
    }

    async fn serve(&self, core: &Core, session: Session) -> String {
        // The sink must live as long as the stream: dropping it ends the subscription.
        let (_sink, stream) = session.pubsub.split();
        let mut queue = self.queue.lock().await;
        tokio::select! {
            reason = self.read_loop(core, stream) => reason,
            reason = write_loop(core, &self.names, &mut queue, session.conn) => reason,
        }
    }

    async fn renew(&self, core: &Core) -> Result<(), Fault> {
        let conn = self.conn.lock().clone();
        let Some(mut conn) = conn else {
            return Err(Fault::Down("no connection to renew the lease on".into()));
        };
        self.renew_on(core, &mut conn).await
    }

    async fn release(&self, core: &Core) {
        let conn = self.conn.lock().clone();
        let Some(mut conn) = conn else {
            return;
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RELEASE)
            .arg(2)
            .arg(self.names.lease(core.node()))
            .arg(self.names.index())
            .arg(&core.token[..])
            .arg(core.node().0);
        let call = cmd.query_async::<i64>(&mut conn);
        let error = match tokio::time::timeout(core.timeout, call).await {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        tracing::debug!(node = %core.node(), %error, "could not release the node lease; it expires by itself");
    }

    fn ended(&self) {
        *self.conn.lock() = None;
        self.pending.clear();
        // The session's writer is gone, and with it the queue's lock.
        if let Ok(mut queue) = self.queue.try_lock() {
            while queue.try_recv().is_ok() {}
        }
    }

    async fn request(
        &self,
        core: &Core,
        node: NodeId,
        command: Command,
    ) -> Result<Reply, SendError> {
        let started = Instant::now();
        let deadline = started + core.timeout;
        let dead = dead_reply(&command);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode(&Frame::Request {
            origin: core.node(),
            id,
            command,
        })?;
        let (reply_tx, reply_rx) = oneshot::channel();
        self.pending.insert(id, reply_tx);
        let _guard = PendingGuard {
            pending: &self.pending,
            id,
        };
        let (sent_tx, sent_rx) = oneshot::channel();
        let item = Outgoing::Request {
            node,
            frame,
            deadline,
            sent: sent_tx,
        };
        match tokio::time::timeout_at(deadline, self.outbox.send(item)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(core.unavailable()),
            Err(_) => return Err(timed_out(node, started)),
        }
        let receivers = match tokio::time::timeout_at(deadline, sent_rx).await {
            Ok(Ok(result)) => result?,
            // The writer dropped the item: the session ended under it.
            Ok(Err(_)) => return Err(core.unavailable()),
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
            Ok(Err(_)) => Err(core.unavailable()),
            Err(_) => Err(timed_out(node, started)),
        }
    }

    fn cast(&self, core: &Core, frame: Bytes) -> Result<(), SendError> {
        let item = Outgoing::Publish {
            channel: self.names.all_channel(),
            frame,
            deadline: Instant::now() + core.timeout,
        };
        // Never waits: a handler broadcasting must not stall on a slow broker.
        self.outbox.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                SendError::BrokerUnavailable("the cluster outbound queue is full".into())
            }
            mpsc::error::TrySendError::Closed(_) => core.unavailable(),
        })
    }

    async fn live_nodes(&self, core: &Core) -> Result<Vec<NodeId>, SendError> {
        let conn = self.conn.lock().clone();
        let Some(mut conn) = conn else {
            return Err(core.unavailable());
        };
        let ids: Vec<String> = tokio::time::timeout(
            core.timeout,
            redis::cmd("EVAL")
                .arg(LIVE)
                .arg(1)
                .arg(self.names.index())
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| {
            SendError::BrokerUnavailable(format!(
                "Redis did not answer within {} ms",
                core.timeout.as_millis()
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

impl Redis {
    /// Renews the lease on `conn`, re-taking it if it expired and nobody else took it (e.g.
    /// after a broker restart).
    async fn renew_on(&self, core: &Core, conn: &mut MultiplexedConnection) -> Result<(), Fault> {
        let node = core.node();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(LEASE)
            .arg(2)
            .arg(self.names.lease(node))
            .arg(self.names.index())
            .arg(&core.token[..])
            .arg(u64::try_from(core.lease.as_millis()).unwrap_or(u64::MAX))
            .arg(node.0);
        let sent = Instant::now();
        let call = cmd.query_async::<i64>(conn);
        match tokio::time::timeout(core.timeout, call).await {
            Ok(Ok(0)) => Err(Fault::Lost(format!(
                "node id {node} was taken by another process while this node could not renew its lease"
            ))),
            Ok(Ok(written)) => {
                core.lease_written(sent);
                if written == 2 {
                    tracing::info!(node = %node, "re-took the node lease (it had expired or the broker restarted)");
                }
                Ok(())
            }
            Ok(Err(e)) => Err(connect::fault(core, "renewing the lease", &e)),
            Err(_) => Err(Fault::Down(format!(
                "Redis did not answer within {} ms",
                core.timeout.as_millis()
            ))),
        }
    }

    async fn read_loop(&self, core: &Core, mut stream: PubSubStream) -> String {
        while let Some(message) = stream.next().await {
            match wire::decode(Bytes::copy_from_slice(message.get_payload_bytes())) {
                Ok(frame) => self.handle(core, frame),
                Err(error) => {
                    core.local.count_error();
                    tracing::debug!(channel = message.get_channel_name(), %error, "ignored a malformed cluster frame");
                }
            }
        }
        "the pub/sub connection closed".into()
    }

    /// Handles one frame from this node's channel or the shared one. Never awaits: the pub/sub
    /// connection is read by one loop, and applying a command only queues into local outboxes.
    fn handle(&self, core: &Core, frame: Frame) {
        match frame {
            Frame::Request {
                origin,
                id,
                command,
            } => {
                let target = NodeId(self.serving.load(Ordering::Acquire));
                let Some(answer) = core.answer(target, id, command) else {
                    // Not this node's to answer (see `Core::answer`); the requester hears
                    // from the id's holder, or times out.
                    return;
                };
                let sent = answer.ok().and_then(|frame| {
                    self.outbox
                        .try_send(Outgoing::Publish {
                            channel: self.names.node_channel(origin),
                            frame,
                            deadline: Instant::now() + core.timeout,
                        })
                        .ok()
                });
                if sent.is_none() {
                    // The requester times out; counted here, where the cause is known.
                    core.local.count_error();
                }
            }
            Frame::Reply { id, reply, .. } => {
                if let Some((_, waiter)) = self.pending.remove(&id) {
                    let _ = waiter.send(reply);
                }
            }
            Frame::Cast { origin, command } => core.apply_cast(origin, command),
        }
    }
}

/// Claims a free node id in one script; `None` when every id is taken.
async fn claim(
    conn: &mut MultiplexedConnection,
    names: &Names,
    core: &Core,
) -> Result<Option<NodeId>, Fault> {
    let (token, lease, timeout) = (&core.token, core.lease, core.timeout);
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(CLAIM)
        .arg(0)
        .arg(&names.prefix)
        .arg(&token[..])
        .arg(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
        .arg(lease::random_start())
        .arg(MAX_NODE);
    let call = cmd.query_async::<i64>(conn);
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(id)) => Ok(u16::try_from(id).ok().filter(|id| *id != 0).map(NodeId)),
        Ok(Err(e)) => Err(connect::fault(core, "claiming a node id", &e)),
        Err(_) => Err(Fault::Down(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}
