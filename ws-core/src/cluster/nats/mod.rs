//! The NATS backplane: core NATS request/reply for messages, a JetStream KV bucket for leases
//! ([`lease`]).
//!
//! Subjects: `{prefix}.node.{id}` (requests to a node; replies use NATS's own inboxes) and
//! `{prefix}.all` (casts). This needs JetStream (`nats-server -js`) but no 2.11-only
//! per-message TTLs, so NATS 2.9 works.
//!
//! Unlike Redis's, the NATS client reconnects by itself (with the same backoff, through
//! `reconnect_delay_callback`) and re-subscribes every subscription before anything else is
//! sent. So a session here is one connected period of that client: it opens when the client
//! reports `Connected` and the lease is re-asserted (the bucket re-created if the server lost
//! it), and ends at `Disconnected`. The subscriptions are made once, at boot, and read by two
//! tasks of their own.

pub(crate) mod lease;
pub(crate) mod secured;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::jetstream::{self, kv};
use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::TryStreamExt;
use futures_util::future::FutureExt;
use parking_lot::RwLock;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::lease::sanitize;
use crate::cluster::backoff::Backoff;
use crate::cluster::broker::{Broker, Core, Fault, Shared, timed_out};
use crate::cluster::command::{Command, Reply, dead_reply};
use crate::cluster::lease::renew_every;
use crate::cluster::wire::{self, Frame};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::{NodeId, SendError};

/// What is specific to NATS in a node's backplane.
pub(crate) struct Nats {
    client: Client,
    js: jetstream::Context,
    /// The lease bucket once opened; replaced when a restarted server had lost it.
    store: RwLock<Option<kv::Store>>,
    bucket: String,
    /// The cluster prefix, cut to what subjects may carry.
    prefix: String,
    /// The revision of this node's key after its last write, for compare-and-set renewals.
    revision: AtomicU64,
    /// The client's connection events.
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    /// The node id whose subject the request reader subscribed to; 0 while none.
    subscribed: watch::Sender<NodeId>,
    /// With TLS on: a handshake of our own that says why the client's fails.
    tls_probe: Option<secured::TlsProbe>,
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
        .ping_interval(renew_every(lease).max(Duration::from_millis(500)))
        .reconnect_delay_callback(Backoff::delay)
        .max_reconnects(None)
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                let _ = events.send(event);
            }
        })
}

/// What the supervisor learns from the client's events.
enum Link {
    Up,
    Down,
    Closed,
    /// A connect attempt was refused: credentials or TLS.
    Refused(ClusterError),
}

/// The next connect, disconnect or refusal; other events (slow consumer, server errors) are
/// counted.
async fn next_link(core: &Core, events: &mut mpsc::UnboundedReceiver<Event>) -> Link {
    loop {
        match events.recv().await {
            Some(Event::Connected) => return Link::Up,
            Some(Event::Disconnected) => return Link::Down,
            Some(Event::Closed) | None => return Link::Closed,
            Some(other) if let Some(refused) = secured::refusal(&core.url, &other) => {
                core.local.count_error();
                return Link::Refused(refused);
            }
            Some(other) => {
                core.local.count_error();
                tracing::debug!(node = %core.node(), event = %other, "NATS client event");
            }
        }
    }
}

impl Nats {
    /// Why the client did not connect in time: still the refusal it last reported, a TLS
    /// failure the probe can name, or a server that is away.
    async fn not_connected(&self, core: &Core) -> Fault {
        if let Some(refusal) = core.refusal() {
            return Fault::Refused(refusal);
        }
        if let Some(probe) = &self.tls_probe
            && let Some(reason) = probe.failure(core.timeout).await
        {
            return Fault::Refused(ClusterError::Tls {
                broker: Self::NAME,
                url: core.url.clone(),
                reason,
            });
        }
        Fault::Down(format!("not connected to NATS at {}", core.url))
    }
}

impl Broker for Nats {
    const NAME: &'static str = "NATS";
    type Session = ();

    async fn new(config: &ClusterConfig, core: &Core) -> Result<Self, ClusterError> {
        let prefix = sanitize(&config.prefix);
        if prefix != config.prefix {
            tracing::warn!(prefix = %config.prefix, used = %prefix, "cluster prefix has characters NATS subjects cannot carry");
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        // The client connects (and reconnects) in the background: a server that is not up yet
        // is waited for by the supervisor's sessions, not by boot.
        let (url, options, tls_probe) = secured::secure(
            config,
            &core.url,
            options(events_tx, core.timeout, core.lease).retry_on_initial_connect(),
        )?;
        let client = async_nats::connect_with_options(url.as_str(), options)
            .await
            .map_err(|e| ClusterError::BadUrl {
                broker: Self::NAME,
                url: core.url.clone(),
                reason: e.to_string(),
            })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(core.timeout);
        Ok(Self {
            client,
            js,
            store: RwLock::new(None),
            bucket: format!("{prefix}_nodes"),
            prefix,
            revision: AtomicU64::new(0),
            events: tokio::sync::Mutex::new(events),
            subscribed: watch::channel(NodeId(0)).0,
            tls_probe,
        })
    }

    fn start(shared: &Arc<Shared<Self>>) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(answer_requests(shared.clone())),
            tokio::spawn(apply_casts(shared.clone())),
        ]
    }

    async fn open(&self, core: &Core) -> Result<(), Fault> {
        {
            let mut events = self.events.lock().await;
            let connected = async {
                while !self.connected() {
                    match next_link(core, &mut events).await {
                        Link::Up => break,
                        Link::Down => {}
                        Link::Closed => {
                            return Err(Fault::Down("the NATS client is closed".into()));
                        }
                        Link::Refused(refused) => return Err(Fault::Refused(refused)),
                    }
                }
                Ok(())
            };
            // Bounded, so a server that is not up yet shows as a failed session (the boot
            // log, `/ready`) while the client keeps trying in the background.
            match tokio::time::timeout(core.timeout.max(Duration::from_secs(1)), connected).await {
                Ok(result) => result?,
                Err(_) => return Err(self.not_connected(core).await),
            }
        }
        if core.claimed().is_none() {
            self.claim(core).await?;
        }
        let node = core.node();
        // The reader subscribes to the node's subject; the round trips below follow it on the
        // same connection, so once the node is ready the server has it: no other node can get
        // "no responders" for this one.
        let mut subscribed = self.subscribed.subscribe();
        tokio::time::timeout(core.timeout, subscribed.wait_for(|n| *n == node))
            .await
            .map_err(|_| format!("subscribing as node {node} timed out"))?
            .map_err(|_| "the NATS request reader stopped".to_string())?;
        // The client re-subscribed before anything else, so these round trips come after.
        self.reassert(core).await
    }

    async fn serve(&self, core: &Core, (): ()) -> String {
        let mut events = self.events.lock().await;
        loop {
            match next_link(core, &mut events).await {
                // A reconnect the session was opened on; a refusal while connected is of an
                // attempt that lost to the one that connected.
                Link::Up | Link::Refused(_) => {}
                Link::Down => return "disconnected from NATS".into(),
                Link::Closed => return "the NATS client is closed".into(),
            }
        }
    }

    async fn renew(&self, core: &Core) -> Result<(), Fault> {
        if !self.connected() {
            return Err(Fault::Down("the NATS client is not connected".into()));
        }
        self.renew_lease(core).await
    }

    async fn release(&self, core: &Core) {
        self.release_lease(core).await;
    }

    async fn close(&self, core: &Core) {
        let _ = tokio::time::timeout(core.timeout, self.client.drain()).await;
    }

    /// The client's state flips before the supervisor hears of it.
    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    async fn request(
        &self,
        core: &Core,
        node: NodeId,
        command: Command,
    ) -> Result<Reply, SendError> {
        let started = Instant::now();
        let dead = dead_reply(&command);
        let frame = wire::encode(&Frame::Request {
            origin: core.node(),
            id: 0,
            command,
        })?;
        let subject = format!("{}.node.{}", self.prefix, node.0);
        let kind =
            match tokio::time::timeout(core.timeout, self.client.request(subject, frame)).await {
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
                if self.lease_alive(core, node).await? {
                    Err(timed_out(node, started))
                } else {
                    Ok(dead)
                }
            }
            // Subscribed but silent: partitioned from the broker, or overloaded. A lease that is
            // gone settles it (dead); the check is bounded by a quarter of the timeout, so the
            // whole call stays within 1.25 × request_timeout_ms.
            RequestErrorKind::TimedOut => {
                let check = tokio::time::timeout(core.timeout / 4, self.lease_alive(core, node));
                match check.await {
                    Ok(Ok(false)) => Ok(dead),
                    _ => Err(timed_out(node, started)),
                }
            }
            other => Err(SendError::BrokerUnavailable(format!(
                "request to node {node} failed: {other:?}"
            ))),
        }
    }

    fn cast(&self, _core: &Core, frame: Bytes) -> Result<(), SendError> {
        // Polled once: the client queues or refuses at once, so a handler broadcasting never
        // waits on a slow broker.
        match self
            .client
            .publish(format!("{}.all", self.prefix), frame)
            .now_or_never()
        {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(SendError::BrokerUnavailable(e.to_string())),
            None => Err(SendError::BrokerUnavailable(
                "the NATS client's outbound queue is full".into(),
            )),
        }
    }

    async fn live_nodes(&self, core: &Core) -> Result<Vec<NodeId>, SendError> {
        let Some(store) = self.store.read().clone() else {
            return Err(core.unavailable());
        };
        let keys = async {
            let keys = store.keys().await.map_err(|e| e.to_string())?;
            keys.try_collect::<Vec<String>>()
                .await
                .map_err(|e| e.to_string())
        };
        let keys = tokio::time::timeout(core.timeout, keys)
            .await
            .map_err(|_| {
                SendError::BrokerUnavailable(format!(
                    "listing nodes took over {} ms",
                    core.timeout.as_millis()
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

/// Answers requests to this node's id in arrival order: applying only queues into local
/// outboxes, so one slow client never holds up the others, and pushes to one connection stay in
/// order. Follows the node id: subscribes to its subject once claimed, and drops the
/// subscription when the id is lost.
async fn answer_requests(shared: Arc<Shared<Nats>>) {
    let Shared { core, broker } = &*shared;
    let mut node_changes = core.node_changes();
    loop {
        let node = *node_changes.borrow_and_update();
        if node.0 == 0 {
            if node_changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        let subject = format!("{}.node.{}", broker.prefix, node.0);
        let mut requests = match broker.client.subscribe(subject).await {
            Ok(requests) => requests,
            Err(error) => {
                core.local.count_error();
                tracing::warn!(node = %node, %error, "cannot subscribe to this node's requests; retrying");
                tokio::time::sleep(Backoff::FIRST).await;
                continue;
            }
        };
        broker.subscribed.send_replace(node);
        loop {
            tokio::select! {
                message = requests.next() => match message {
                    Some(message) => answer(core, broker, node, message).await,
                    None => break,
                },
                changed = node_changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
        broker.subscribed.send_replace(NodeId(0));
    }
}

async fn answer(core: &Core, broker: &Nats, node: NodeId, message: async_nats::Message) {
    let Some(reply_to) = message.reply else {
        return;
    };
    let Ok(Frame::Request { id, command, .. }) = wire::decode(message.payload) else {
        core.local.count_error();
        return;
    };
    // `None`: not this node's to answer (see `Core::answer`).
    let Some(frame) = core.answer(node, id, command) else {
        return;
    };
    let sent = match frame {
        Ok(frame) => broker.client.publish(reply_to, frame).await.is_ok(),
        Err(_) => false,
    };
    if !sent {
        core.local.count_error();
    }
}

async fn apply_casts(shared: Arc<Shared<Nats>>) {
    let Shared { core, broker } = &*shared;
    // The client queues the subscription until it is connected, and renews it on reconnects.
    let mut casts = loop {
        match broker
            .client
            .subscribe(format!("{}.all", broker.prefix))
            .await
        {
            Ok(casts) => break casts,
            Err(error) => {
                core.local.count_error();
                tracing::warn!(%error, "cannot subscribe to cluster casts; retrying");
                tokio::time::sleep(Backoff::FIRST).await;
            }
        }
    };
    while let Some(message) = casts.next().await {
        match wire::decode(message.payload) {
            Ok(Frame::Cast { origin, command }) => core.apply_cast(origin, command),
            Ok(_) => {}
            Err(_) => core.local.count_error(),
        }
    }
}
