//! The skeleton both broker backplanes share, written once over the [`Broker`] trait:
//!
//! - **boot**: build the client and start the supervisor. With `required_at_boot` boot returns
//!   only once the node is ready, and fails after [`BOOT_WINDOW`] (at once when the broker
//!   refuses the node's credentials or TLS); otherwise it returns once the
//!   first session opened or failed, and a node whose broker is down serves its own connections
//!   (under local-only fds, node 0) while the supervisor keeps trying;
//! - **the supervisor**: one *session* at a time: open it (connect, claim a node id if the node
//!   holds none, subscribe, assert the lease), report ready, then serve it and renew the lease
//!   every `lease / 3` until either fails; then report not ready, fail whatever waits on the
//!   session at once, count the failure, and open the next one after an exponential backoff
//!   (capped at 2 s). A session that finds its id held by another process (this node was paused
//!   or cut off longer than its lease) forgets the id, so the node's connections under it are
//!   closed, and the next session claims a fresh one;
//! - **the [`Backplane`] calls**: fail fast while not ready, and count broker-side failures.

use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::backplane::Backplane;
use super::broker::{BOOT_WINDOW, Broker, Core, Fault, Shared};
use super::command::{Command, Reply, dead_reply};
use super::lease;
use super::local::LocalNode;
use super::wire::{self, Frame};
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::{NodeId, SendError};

/// A broker backplane: a [`Broker`] under the shared supervisor.
pub(super) struct Supervised<B: Broker> {
    shared: Arc<Shared<B>>,
    stop: watch::Sender<bool>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
    /// The broker's tasks beside the supervisor, from [`Broker::start`].
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Builds the broker `B` and starts its supervisor; see the module's text for when it returns.
pub(super) async fn start<B: Broker>(
    config: &ClusterConfig,
    local: LocalNode,
) -> Result<Supervised<B>, ClusterError> {
    let core = Core::new(B::NAME, config, local);
    let broker = B::new(config, &core).await?;
    let shared = Arc::new(Shared { core, broker });
    let tasks = B::start(&shared);
    let (stop, stop_rx) = watch::channel(false);
    let supervisor = tokio::spawn(supervise(shared.clone(), stop_rx));
    let backplane = Supervised {
        shared,
        stop,
        supervisor: Mutex::new(Some(supervisor)),
        tasks: Mutex::new(tasks),
    };
    let core = &backplane.shared.core;
    let required = config.required_at_boot;
    let settled = tokio::time::timeout(BOOT_WINDOW, core.until_ready(!required)).await;
    if core.is_ready() {
        tracing::info!(node = %core.node(), url = %core.url, prefix = %config.prefix, "cluster backplane ready ({})", B::NAME.to_ascii_lowercase());
        return Ok(backplane);
    }
    let reason = core
        .failure()
        .unwrap_or_else(|| format!("still connecting after {BOOT_WINDOW:?}"));
    if required {
        let _ = settled;
        // A refusal is named as such, not as an unreachable broker.
        let error = match core.claimed() {
            _ if let Some(refusal) = core.refusal() => refusal,
            Some(node) => ClusterError::NotReady {
                node,
                url: core.url.clone(),
                reason,
            },
            None => ClusterError::Unreachable {
                broker: B::NAME,
                url: core.url.clone(),
                reason,
            },
        };
        backplane.shutdown().await;
        return Err(error);
    }
    if core.refusal().is_some() {
        // Already said at error level by the supervisor.
        return Ok(backplane);
    }
    tracing::warn!(url = %core.url, %reason, "cluster broker not reachable at boot; serving this node's connections (local-only fds) and joining the cluster once it is up");
    Ok(backplane)
}

/// Resolves once `stop` says so, or its sender is gone (which also means stop).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn supervise<B: Broker>(shared: Arc<Shared<B>>, mut stop: watch::Receiver<bool>) {
    let core = &shared.core;
    let mut backoff = Backoff::new();
    let mut lost_at: Option<Instant> = None;
    loop {
        let outcome = session(&shared, &mut stop, &mut backoff, &mut lost_at).await;
        let was_ready = core.set_ready(false);
        // Every caller waiting on this session learns now, not at its timeout.
        shared.broker.ended();
        let Some(fault) = outcome else {
            return;
        };
        core.local.count_error();
        let reason = fault.reason();
        let refusal = match &fault {
            Fault::Refused(error) => Some(error.clone()),
            Fault::Down(_) | Fault::Lost(_) => None,
        };
        let new_refusal = core.set_failure(reason, refusal);
        if let Fault::Lost(reason) = &fault {
            let lost = core.forget_node();
            tracing::error!(node = %lost, url = %core.url, %reason, "this node's id belongs to another node now (it was paused or cut off longer than lease_ms): closing its connections under that id and claiming a fresh one");
        } else if let Fault::Refused(error) = &fault {
            // One error line per refusal, not one every retry: the node keeps trying, since the
            // broker's users or certificates may be fixed without restarting it.
            if new_refusal {
                tracing::error!(node = %core.node(), url = %core.url, "{error}; this node serves only its own connections and answers /ready 503 until the broker accepts it (retrying with backoff)");
            } else {
                tracing::debug!(node = %core.node(), url = %core.url, "{error}");
            }
        } else if was_ready {
            lost_at = Some(Instant::now());
            tracing::warn!(node = %core.node(), url = %core.url, reason = %fault.reason(), "lost the cluster broker; local delivery goes on, remote calls fail until it is back");
        } else {
            tracing::debug!(node = %core.node(), url = %core.url, reason = %fault.reason(), "cluster broker still unreachable");
        }
        let claim_at_once = matches!(fault, Fault::Lost(_));
        if claim_at_once {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// One session: `Some(why it failed)`, or `None` once stopped.
async fn session<B: Broker>(
    shared: &Shared<B>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
    lost_at: &mut Option<Instant>,
) -> Option<Fault> {
    let (core, broker) = (&shared.core, &shared.broker);
    let session = tokio::select! {
        opened = broker.open(core) => match opened {
            Ok(session) => session,
            Err(fault) => return Some(fault),
        },
        () = stopped(stop) => return None,
    };
    core.set_ready(true);
    backoff.reset();
    if let Some(lost_at) = lost_at.take() {
        tracing::info!(node = %core.node(), url = %core.url, down_ms = lost_at.elapsed().as_millis() as u64, "reconnected to the cluster broker and re-subscribed");
    }
    tokio::select! {
        reason = broker.serve(core, session) => Some(Fault::Down(reason)),
        fault = keep_lease(broker, core) => Some(fault),
        () = stopped(stop) => {
            core.set_ready(false);
            broker.release(core).await;
            None
        }
    }
}

/// Renews the lease every [`lease::renew_every`] until a renewal fails; returns why.
async fn keep_lease<B: Broker>(broker: &B, core: &Core) -> Fault {
    let mut tick = tokio::time::interval(lease::renew_every(core.lease));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the session asserted the lease just now.
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(fault) = broker.renew(core).await {
            return fault;
        }
    }
}

impl<B: Broker> Backplane for Supervised<B> {
    fn node(&self) -> NodeId {
        self.shared.core.node()
    }

    fn node_changes(&self) -> watch::Receiver<NodeId> {
        self.shared.core.node_changes()
    }

    fn request(&self, node: NodeId, command: Command) -> BoxFuture<'_, Result<Reply, SendError>> {
        async move {
            let Shared { core, broker } = &*self.shared;
            // No broker hands out node 0: its fds are local-only fds of some node, and no other
            // node holds them.
            let result = if node.0 == 0 {
                Ok(dead_reply(&command))
            } else if self.is_ready() {
                broker.request(core, node, command).await
            } else {
                Err(core.unavailable())
            };
            core.local.counted(result)
        }
        .boxed()
    }

    fn publish(&self, command: Command) -> BoxFuture<'_, Result<(), SendError>> {
        let Shared { core, broker } = &*self.shared;
        let result = if self.is_ready() {
            wire::encode(&Frame::Cast {
                origin: core.node(),
                command,
            })
            .map_err(SendError::from)
            .and_then(|frame| broker.cast(core, frame))
        } else {
            Err(core.unavailable())
        };
        let result = core.local.counted(result);
        async move { result }.boxed()
    }

    fn live_nodes(&self) -> BoxFuture<'_, Result<Vec<NodeId>, SendError>> {
        async move {
            let Shared { core, broker } = &*self.shared;
            let result = if self.is_ready() {
                broker.live_nodes(core).await
            } else {
                Err(core.unavailable())
            };
            core.local.counted(result)
        }
        .boxed()
    }

    fn is_ready(&self) -> bool {
        self.shared.core.is_ready() && self.shared.broker.connected()
    }

    fn not_ready_reason(&self) -> Option<String> {
        if self.is_ready() {
            return None;
        }
        Some(
            self.shared
                .core
                .failure()
                .unwrap_or_else(|| format!("connecting to {}", self.shared.core.url)),
        )
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            // The broker's tasks first: NATS's readers drop their subscriptions there, and the
            // unsubscribes then reach the server ahead of the lease release on the same
            // connection, so from then on a request to this node is answered as for a dead one.
            let tasks = std::mem::take(&mut *self.tasks.lock());
            for task in tasks {
                task.abort();
                let _ = task.await;
            }
            let _ = self.stop.send(true);
            let supervisor = self.supervisor.lock().take();
            if let Some(supervisor) = supervisor {
                // Releasing the lease is one bounded call; the supervisor is aborted past that.
                let abort = supervisor.abort_handle();
                if tokio::time::timeout(self.shared.core.timeout * 2, supervisor)
                    .await
                    .is_err()
                {
                    abort.abort();
                }
            }
            self.shared.broker.close(&self.shared.core).await;
        }
        .boxed()
    }
}

impl<B: Broker> Drop for Supervised<B> {
    fn drop(&mut self) {
        // An app dropped without `shutdown` still leaves the cluster: no more answers, no more
        // renewals, and its lease is released or expires by itself.
        let _ = self.stop.send(true);
        for task in self.tasks.get_mut().drain(..) {
            task.abort();
        }
    }
}
