//! What a broker backplane implements, and what it gets to work with.
//!
//! A broker ([`Broker`]) brings only its own client: how to connect and claim a node id at boot,
//! open and serve one connected session, renew and release its lease, and carry requests,
//! casts and the live-node list. It gets the node's shared state ([`Core`]) and, at boot, the
//! config and boot window ([`Boot`]). When any of it runs is `supervise`'s.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::command::{Command, Reply};
use super::lease;
use super::local::LocalNode;
use super::wire::{self, EncodeError, Frame};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::secret::mask_url;
use crate::{NodeId, SendError};

/// How long boot keeps trying to reach the broker before it gives up with one clear error.
/// Long enough for a broker started alongside the app (compose, a CI job) to come up.
pub(super) const BOOT_WINDOW: Duration = Duration::from_secs(10);

/// What a broker backplane implements: its connection, pub/sub and lease primitive. Everything
/// around them (when to reconnect, when the node is ready, what a caller gets meanwhile) is
/// this module's.
pub(super) trait Broker: Send + Sync + Sized + 'static {
    /// The broker's name in logs and errors: `Redis`, `NATS`.
    const NAME: &'static str;

    /// What one connected period holds, handed from [`Broker::open`] to [`Broker::serve`].
    type Session: Send;

    /// Connects and claims a free node id; retries through [`Boot::retry`] while the broker is
    /// unreachable.
    fn claim(
        boot: &mut Boot<'_>,
    ) -> impl Future<Output = Result<(Self, NodeId), ClusterError>> + Send;

    /// Starts what lives across sessions once the node exists, before the first session
    /// opens. Returns tasks that [`Backplane::shutdown`](super::backplane::Backplane::shutdown) stops before the lease is released.
    fn start(
        shared: &Arc<Shared<Self>>,
    ) -> impl Future<Output = Result<Vec<JoinHandle<()>>, ClusterError>> + Send {
        let _ = shared;
        async { Ok(Vec::new()) }
    }

    /// Opens a session: connected, subscribed, and the lease asserted (re-taken if it expired),
    /// so the node may report ready when this returns.
    fn open(&self, core: &Core) -> impl Future<Output = Result<Self::Session, String>> + Send;

    /// Reads and writes until the session fails; returns why.
    fn serve(&self, core: &Core, session: Self::Session) -> impl Future<Output = String> + Send;

    /// Renews the lease; an error ends the session.
    fn renew(&self, core: &Core) -> impl Future<Output = Result<(), String>> + Send;

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

/// What a broker's [`Broker::claim`] gets: the config and the boot window.
pub(super) struct Boot<'a> {
    pub(super) config: &'a ClusterConfig,
    /// `config.url` with any password masked, for logs and errors.
    pub(super) url: String,
    pub(super) timeout: Duration,
    pub(super) lease: Duration,
    pub(super) token: Bytes,
    /// When boot gives up.
    pub(super) deadline: Instant,
    backoff: Backoff,
}

impl<'a> Boot<'a> {
    pub(super) fn new(config: &'a ClusterConfig) -> Self {
        Self {
            config,
            url: mask_url(&config.url),
            timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            lease: lease::length(config),
            token: lease::token(),
            deadline: Instant::now() + BOOT_WINDOW,
            backoff: Backoff::new(),
        }
    }

    /// Runs `attempt` until it succeeds, backing off between tries; its last error once the
    /// next try would start past the boot window. `waiting` says what is awaited, in the log.
    pub(super) async fn retry<T, F, Fut>(
        &mut self,
        waiting: &str,
        mut attempt: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        loop {
            let reason = match attempt().await {
                Ok(value) => return Ok(value),
                Err(reason) => reason,
            };
            let delay = self.backoff.next_delay();
            if Instant::now() + delay >= self.deadline {
                return Err(reason);
            }
            tracing::warn!(url = %self.url, %reason, "{waiting}; retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

/// The state of one node that every broker shares.
pub(super) struct Core {
    /// [`Broker::NAME`].
    pub(super) broker: &'static str,
    pub(super) node: NodeId,
    /// The broker's URL, password masked.
    pub(super) url: String,
    /// This process's lease token.
    pub(super) token: Bytes,
    pub(super) lease: Duration,
    /// `request_timeout_ms`: the bound of every call to the broker.
    pub(super) timeout: Duration,
    pub(super) local: LocalNode,
    ready: AtomicBool,
    ready_changed: Notify,
    /// Why the last session failed, for the boot error.
    failure: Mutex<Option<String>>,
}

impl Core {
    pub(super) fn new(
        broker: &'static str,
        node: NodeId,
        boot: &Boot<'_>,
        local: LocalNode,
    ) -> Self {
        Self {
            broker,
            node,
            url: boot.url.clone(),
            token: boot.token.clone(),
            lease: boot.lease,
            timeout: boot.timeout,
            local,
            ready: AtomicBool::new(false),
            ready_changed: Notify::new(),
            failure: Mutex::new(None),
        }
    }

    pub(super) fn unavailable(&self) -> SendError {
        SendError::BrokerUnavailable(format!("not connected to {} at {}", self.broker, self.url))
    }

    /// Connected, subscribed, and holding the lease, as far as the supervisor knows.
    pub(super) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Reports the node ready or not; returns whether it was. The supervisor's to call.
    pub(super) fn set_ready(&self, ready: bool) -> bool {
        let was = self.ready.swap(ready, Ordering::AcqRel);
        self.ready_changed.notify_waiters();
        was
    }

    /// Resolves once the node is ready.
    pub(super) async fn until_ready(&self) {
        loop {
            let changed = self.ready_changed.notified();
            if self.is_ready() {
                return;
            }
            changed.await;
        }
    }

    /// Keeps why the last session failed, for the boot error.
    pub(super) fn set_failure(&self, reason: String) {
        *self.failure.lock() = Some(reason);
    }

    /// Why the last session failed, if one did.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// Applies a request from another node; the reply frame to send back. Never waits:
    /// applying only queues into local outboxes.
    pub(super) fn answer(&self, id: u64, command: Command) -> Result<Bytes, EncodeError> {
        let reply = self.local.apply(command);
        wire::encode(&Frame::Reply {
            origin: self.node,
            id,
            reply,
        })
    }

    /// Applies a cast from another node. Casts also reach their sender, which delivered
    /// locally before publishing: those are skipped.
    pub(super) fn apply_cast(&self, origin: NodeId, command: Command) {
        if origin != self.node {
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
