//! What a broker backplane implements, and what it gets to work with.
//!
//! A broker ([`Broker`]) brings only its own client: how to build it, open and serve one
//! connected session (claiming a node id first when the node holds none), renew and release its
//! lease, and carry requests, casts and the live-node list. It gets the node's shared state
//! ([`Core`]). When any of it runs is `supervise`'s.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::command::{Command, Reply};
use super::lease;
use super::local::LocalNode;
use super::wire::{self, EncodeError, Frame};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::secret::mask_url;
use crate::{NodeId, SendError};

/// How long a boot with `required_at_boot` keeps trying to reach the broker before it gives up
/// with one clear error. Long enough for a broker started alongside the app (compose, a CI job)
/// to come up.
pub(super) const BOOT_WINDOW: Duration = Duration::from_secs(10);

/// Why a session could not open or went on no longer.
#[derive(Debug)]
pub(super) enum Fault {
    /// The broker, the connection or a call failed; the next session may keep the node id.
    Down(String),
    /// Another process holds this node's id: it was paused or cut off longer than its lease.
    /// The id, and every fd under it, is no longer this node's.
    Lost(String),
    /// The broker refused this node: its credentials ([`ClusterError::Denied`]) or its TLS
    /// ([`ClusterError::Tls`]). Retried like [`Fault::Down`], since the broker's users or
    /// certificates may be fixed without restarting the node, but logged at error level.
    Refused(ClusterError),
}

impl Fault {
    pub(super) fn reason(&self) -> String {
        match self {
            Fault::Down(reason) | Fault::Lost(reason) => reason.clone(),
            Fault::Refused(error) => error.to_string(),
        }
    }
}

impl From<String> for Fault {
    fn from(reason: String) -> Self {
        Fault::Down(reason)
    }
}

/// What a broker backplane implements: its connection, pub/sub and lease primitive. Everything
/// around them (when to reconnect, when the node is ready, what a caller gets meanwhile) is
/// this module's.
pub(super) trait Broker: Send + Sync + Sized + 'static {
    /// The broker's name in logs and errors: `Redis`, `NATS`.
    const NAME: &'static str;

    /// What one connected period holds, handed from [`Broker::open`] to [`Broker::serve`].
    type Session: Send;

    /// Builds the client without waiting on the broker, which may not be up yet; fails only
    /// for a URL the client cannot use.
    fn new(
        config: &ClusterConfig,
        core: &Core,
    ) -> impl Future<Output = Result<Self, ClusterError>> + Send;

    /// Starts what lives across sessions, before the first session opens. Returns tasks that
    /// [`Backplane::shutdown`](super::backplane::Backplane::shutdown) stops before the lease is
    /// released.
    fn start(shared: &Arc<Shared<Self>>) -> Vec<JoinHandle<()>> {
        let _ = shared;
        Vec::new()
    }

    /// Opens a session: connected, a node id claimed if the node holds none
    /// ([`Core::claimed`]), subscribed, and the lease asserted (re-taken if it expired and
    /// nobody else took it), so the node may report ready when this returns.
    fn open(&self, core: &Core) -> impl Future<Output = Result<Self::Session, Fault>> + Send;

    /// Reads and writes until the session fails; returns why.
    fn serve(&self, core: &Core, session: Self::Session) -> impl Future<Output = String> + Send;

    /// Renews the lease; an error ends the session.
    fn renew(&self, core: &Core) -> impl Future<Output = Result<(), Fault>> + Send;

    /// Gives the node id back on a clean stop, so other nodes see this one gone at once.
    fn release(&self, core: &Core) -> impl Future<Output = ()> + Send;

    /// A session ended: fail at once whatever waits on it.
    fn ended(&self) {}

    /// Closes the connection for good, after the supervisor stopped.
    fn close(&self, core: &Core) -> impl Future<Output = ()> + Send {
        let _ = core;
        async {}
    }

    /// Whether the client itself is connected; it may learn of a loss before the supervisor.
    fn connected(&self) -> bool {
        true
    }

    /// Sends a request to `node` and waits for its reply (the node is ready).
    fn request(
        &self,
        core: &Core,
        node: NodeId,
        command: Command,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send;

    /// Queues an encoded cast for every node, never waiting on the broker (the node is ready).
    fn cast(&self, core: &Core, frame: Bytes) -> Result<(), SendError>;

    /// The nodes whose lease is alive (the node is ready).
    fn live_nodes(
        &self,
        core: &Core,
    ) -> impl Future<Output = Result<Vec<NodeId>, SendError>> + Send;
}

/// The state of one node that every broker shares.
pub(super) struct Core {
    /// [`Broker::NAME`].
    pub(super) broker: &'static str,
    /// The node id held, 0 while none is (before the first claim, or after the lease was lost).
    node: AtomicU16,
    /// Every change of `node`, for the node's fd allocator and its connections.
    node_changes: watch::Sender<NodeId>,
    /// The broker's URL, password masked.
    pub(super) url: String,
    /// This process's lease token.
    pub(super) token: Bytes,
    pub(super) lease: Duration,
    /// `request_timeout_ms`: the bound of every call to the broker.
    pub(super) timeout: Duration,
    pub(super) local: LocalNode,
    /// Until when the lease is surely this node's: a lease write sent at `t` holds until at
    /// least `t + lease` on the broker. Past it the node answers no request under its id.
    lease_until: Mutex<Option<Instant>>,
    ready: AtomicBool,
    ready_changed: Notify,
    /// Why the last session failed, for the boot error and `/ready`.
    failure: Mutex<Option<String>>,
    /// The last session's refusal, while the broker refuses this node.
    refusal: Mutex<Option<ClusterError>>,
    /// The last refusal logged since the node was last ready, so a refusal is logged once,
    /// not at every retry (nor again after a retry that failed for another reason).
    logged_refusal: Mutex<Option<ClusterError>>,
}

impl Core {
    pub(super) fn new(broker: &'static str, config: &ClusterConfig, local: LocalNode) -> Self {
        Self {
            broker,
            node: AtomicU16::new(0),
            node_changes: watch::channel(NodeId(0)).0,
            url: mask_url(&config.url),
            token: lease::token(),
            lease: lease::length(config),
            timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            local,
            lease_until: Mutex::new(None),
            ready: AtomicBool::new(false),
            ready_changed: Notify::new(),
            failure: Mutex::new(None),
            refusal: Mutex::new(None),
            logged_refusal: Mutex::new(None),
        }
    }

    /// The node id held; 0 while none is.
    pub(super) fn node(&self) -> NodeId {
        NodeId(self.node.load(Ordering::Acquire))
    }

    /// The node id held, if any.
    pub(super) fn claimed(&self) -> Option<NodeId> {
        Some(self.node()).filter(|node| node.0 != 0)
    }

    /// Every change of the node id, starting with the current one.
    pub(super) fn node_changes(&self) -> watch::Receiver<NodeId> {
        self.node_changes.subscribe()
    }

    /// A broker claimed `node`, whose lease write was sent at `sent`.
    pub(super) fn set_claimed(&self, node: NodeId, sent: Instant) {
        self.lease_written(sent);
        self.node.store(node.0, Ordering::Release);
        self.node_changes.send_replace(node);
    }

    /// The id is another process's now: forget it, and every fd under it with it.
    pub(super) fn forget_node(&self) -> NodeId {
        *self.lease_until.lock() = None;
        let lost = NodeId(self.node.swap(0, Ordering::AcqRel));
        self.node_changes.send_replace(NodeId(0));
        lost
    }

    /// A lease write (claim, renewal, re-assertion) sent at `sent` succeeded.
    pub(super) fn lease_written(&self, sent: Instant) {
        let until = sent + self.lease;
        let mut held = self.lease_until.lock();
        if held.is_none_or(|held| held < until) {
            *held = Some(until);
        }
    }

    /// Whether the lease is surely still this node's by its own clock. False after a pause
    /// (SIGSTOP, a stall) longer than the lease, until a renewal proves it again.
    pub(super) fn lease_held(&self) -> bool {
        self.lease_until
            .lock()
            .is_some_and(|until| Instant::now() < until)
    }

    pub(super) fn unavailable(&self) -> SendError {
        SendError::BrokerUnavailable(format!("not connected to {} at {}", self.broker, self.url))
    }

    /// Connected, subscribed, and holding the lease, as far as the supervisor knows and the
    /// lease's own clock allows.
    pub(super) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.lease_held()
    }

    /// Reports the node ready or not; returns whether it was. The supervisor's to call.
    pub(super) fn set_ready(&self, ready: bool) -> bool {
        if ready {
            *self.refusal.lock() = None;
            *self.logged_refusal.lock() = None;
        }
        let was = self.ready.swap(ready, Ordering::AcqRel);
        self.ready_changed.notify_waiters();
        was
    }

    /// Resolves once the node is ready, once the broker refused it (waiting longer would not
    /// change that), or (with `or_failed`) once a session failed.
    pub(super) async fn until_ready(&self, or_failed: bool) {
        loop {
            let changed = self.ready_changed.notified();
            if self.is_ready()
                || self.refusal.lock().is_some()
                || (or_failed && self.failure.lock().is_some())
            {
                return;
            }
            changed.await;
        }
    }

    /// Keeps why the last session failed, for the boot error and `/ready`; `refusal` when
    /// the broker refused this node. Returns whether the refusal is new since the node was
    /// last ready, which is when it is worth an error line.
    pub(super) fn set_failure(&self, reason: String, refusal: Option<ClusterError>) -> bool {
        let new_refusal = {
            let mut logged = self.logged_refusal.lock();
            let new = refusal.is_some() && *logged != refusal;
            if new {
                logged.clone_from(&refusal);
            }
            new
        };
        *self.refusal.lock() = refusal;
        *self.failure.lock() = Some(reason);
        self.ready_changed.notify_waiters();
        new_refusal
    }

    /// The broker's refusal of this node, while it refuses it.
    pub(super) fn refusal(&self) -> Option<ClusterError> {
        self.refusal.lock().clone()
    }

    /// Why the last session failed, if one did.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// Applies a request to `target` from another node; the reply frame to send back. Never
    /// waits: applying only queues into local outboxes. `None` when this node cannot vouch
    /// that `target` is its id (it holds another, or its lease ran out by its own clock, as
    /// after a pause): another node may hold the id now and answer for it, and two answers
    /// under one id must never race.
    pub(super) fn answer(
        &self,
        target: NodeId,
        id: u64,
        command: Command,
    ) -> Option<Result<Bytes, EncodeError>> {
        if target != self.node() || !self.lease_held() {
            self.local.count_error();
            return None;
        }
        let reply = self.local.apply(command);
        Some(wire::encode(&Frame::Reply {
            origin: target,
            id,
            reply,
        }))
    }

    /// Applies a cast from another node. Casts also reach their sender, which delivered
    /// locally before publishing: those are skipped.
    pub(super) fn apply_cast(&self, origin: NodeId, command: Command) {
        if origin != self.node() {
            let _ = self.local.apply(command);
        }
    }
}

/// A request to `node` that got no answer in time.
pub(super) fn timed_out(node: NodeId, started: Instant) -> SendError {
    SendError::Timeout {
        node,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// What the supervisor and the broker's own tasks share.
pub(super) struct Shared<B> {
    pub(super) core: Core,
    pub(super) broker: B,
}
