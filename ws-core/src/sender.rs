//! [`Sender`]: push to or disconnect any connection of the cluster, from anywhere.

use std::sync::Arc;

use crate::cluster::{Backplane, Command, Reply};
use crate::metrics::{LatencyTimer, Metrics, SenderOp};
use crate::registry::{Delivery, Registry};
use crate::ws::message::{Message, close_frame};
use crate::{Fd, NodeId, SendError};

/// Hyperf's `Hyperf\WebSocketServer\Sender`: a cheap, cloneable handle that pushes to, checks and
/// disconnects any connection by its fd — on this node directly, on another node through the
/// cluster backplane — and reports whether each call was delivered.
///
/// Inject it into a controller with `#[inject] sender: Sender`, or get it from
/// [`RunningApp::sender`](crate::RunningApp::sender) / [`Connection::sender`](crate::Connection::sender).
///
/// Guarantees: pushes to one connection arrive in the order they were made; across nodes
/// delivery is at-most-once (a message in flight when a broker connection drops is lost, and the
/// call reports [`SendError::BrokerUnavailable`] or [`SendError::Timeout`]).
///
/// ```no_run
/// # async fn demo(sender: ws_core::Sender) -> ws_core::Result<()> {
/// use ws_core::{Fd, SendError};
/// match sender.push(Fd(7), "Hello World.").await {
///     Ok(()) => {}
///     Err(SendError::NotConnected(fd)) => println!("{fd} is gone"),
///     Err(other) => return Err(other.into()),
/// }
/// sender.disconnect(Fd(7)).await.ok();
/// # Ok(()) }
/// ```
///
/// ---
///
/// The guide's chapter (also at [`guides::sender`](crate::guides::sender)):
///
#[cfg_attr(not(doctest), doc = include_str!("../guides/07-sender.md"))]
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    backplane: Arc<dyn Backplane>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("node", &self.inner.backplane.node())
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(crate) fn new(
        registry: Arc<Registry>,
        backplane: Arc<dyn Backplane>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                backplane,
                metrics,
            }),
        }
    }

    /// A sender for a single node with no connections, for tests and doc examples.
    #[doc(hidden)]
    pub fn standalone() -> Self {
        Self::new(
            Arc::new(Registry::default()),
            Arc::new(crate::cluster::MemoryBackplane),
            Arc::default(),
        )
    }

    /// This node's id. A cluster node holds none (0) until it first reaches its broker, and
    /// gets a fresh one if it lost its lease; see the cluster guide.
    pub fn node(&self) -> NodeId {
        self.inner.backplane.node()
    }

    /// Node 0 fds are this node's own: a single node's, or a cluster node's local-only ones
    /// (accepted while it held no id), which no other node holds.
    fn is_local(&self, fd: Fd) -> bool {
        fd.node().0 == 0 || fd.node() == self.inner.backplane.node()
    }

    async fn ask(&self, fd: Fd, command: Command) -> Result<Reply, SendError> {
        match self.inner.backplane.request(fd.node(), command).await? {
            Reply::Failed(e) => Err(e),
            reply => Ok(reply),
        }
    }

    /// Queues `message` for the connection `fd`, wherever it is.
    ///
    /// Fails with [`SendError::NotConnected`] when no node holds `fd`, and with
    /// [`SendError::Backpressure`] when the client is not reading.
    pub async fn push(&self, fd: Fd, message: impl Into<Message>) -> Result<(), SendError> {
        let _timer = self.timed(SenderOp::Push, fd);
        let message = message.into();
        if self.is_local(fd) {
            return self.inner.registry.push(fd, message);
        }
        self.ask(fd, Command::Push { fd, message }).await.map(drop)
    }

    /// Closes the connection `fd` with 1000 (normal closure); its `on_close` runs.
    pub async fn disconnect(&self, fd: Fd) -> Result<(), SendError> {
        self.disconnect_with(fd, 1000, "").await
    }

    /// Closes the connection `fd` with `code` and `reason`; its `on_close` runs. The closing
    /// handshake finishes (bounded by `close_timeout_ms`) before the socket is dropped.
    pub async fn disconnect_with(&self, fd: Fd, code: u16, reason: &str) -> Result<(), SendError> {
        let _timer = self.timed(SenderOp::Disconnect, fd);
        if self.is_local(fd) {
            return self.inner.registry.close(fd, close_frame(code, reason));
        }
        self.ask(
            fd,
            Command::Disconnect {
                fd,
                code,
                reason: reason.to_string(),
            },
        )
        .await
        .map(drop)
    }

    /// Whether any node holds `fd` (Hyperf's `Sender::check`). A remote fd costs one request to
    /// its node only; an fd of a node whose lease is gone is `false` at once, without asking.
    /// For up to `lease_ms` after a node crashed, its fds answer [`SendError::Timeout`].
    pub async fn exists(&self, fd: Fd) -> Result<bool, SendError> {
        if self.is_local(fd) {
            return Ok(self.inner.registry.contains(fd));
        }
        match self.ask(fd, Command::Exists { fd }).await? {
            Reply::Exists(found) => Ok(found),
            _ => Ok(false),
        }
    }

    /// Pushes `message` to every connection of the cluster but `except`.
    ///
    /// The payload is serialised once and shared by every local recipient, and sent to the other
    /// nodes as one message on the shared channel. The returned [`Delivery`] counts this node's
    /// recipients; other nodes deliver on their own. Never waits on the broker: when it is
    /// unreachable this node's connections still get the message and the call returns
    /// [`SendError::BrokerUnavailable`].
    pub async fn broadcast(
        &self,
        message: impl Into<Message>,
        except: Option<Fd>,
    ) -> Result<Delivery, SendError> {
        let message = message.into();
        let delivery = self.inner.registry.broadcast(&message, except);
        self.inner
            .backplane
            .publish(Command::Broadcast { message, except })
            .await?;
        Ok(delivery)
    }

    /// Adds `fd` (a connection of this node) to `room`; whether it was not a member yet.
    ///
    /// Membership lives on the node that holds the connection, so joining never waits on the
    /// cluster broker, and a connection leaves all its rooms when it closes.
    pub async fn join(&self, fd: Fd, room: &str) -> Result<bool, SendError> {
        self.inner.registry.join(fd, room)
    }

    /// Removes `fd` (a connection of this node) from `room`; whether it was a member.
    pub async fn leave(&self, fd: Fd, room: &str) -> Result<bool, SendError> {
        self.inner.registry.leave(fd, room)
    }

    /// Pushes `message` to every member of `room` across the cluster but `except`; like
    /// [`broadcast`](Self::broadcast), one message reaches every other node and the result counts
    /// this node's recipients.
    pub async fn to_room(
        &self,
        room: &str,
        message: impl Into<Message>,
        except: Option<Fd>,
    ) -> Result<Delivery, SendError> {
        let message = message.into();
        let delivery = self.inner.registry.push_room(room, &message, except);
        self.inner
            .backplane
            .publish(Command::RoomPush {
                room: room.to_string(),
                message,
                except,
            })
            .await?;
        Ok(delivery)
    }

    /// Every member of `room` across the cluster, sorted: this node's, and those each other live
    /// node reports (one request per node, concurrently, each bounded by `request_timeout_ms`).
    pub async fn room_members(&self, room: &str) -> Result<Vec<Fd>, SendError> {
        let mut members = self.inner.registry.room_members(room);
        members.extend(crate::cluster::remote_room_members(&*self.inner.backplane, room).await?);
        members.sort_unstable();
        members.dedup();
        Ok(members)
    }

    /// Every member of any of `rooms` and of none of `except` across the cluster, with its
    /// rooms and the JSON text its context holds under `meta_key`: this node's, and what each
    /// other live node answers (one request per node). A node that does not answer is left out.
    pub(crate) async fn describe(
        &self,
        rooms: Vec<String>,
        except: Vec<String>,
        meta_key: String,
        local_only: bool,
    ) -> Result<Vec<crate::cluster::MemberInfo>, SendError> {
        let mut members = self.inner.registry.describe(&rooms, &except, &meta_key);
        if local_only {
            return Ok(members);
        }
        let command = Command::Describe {
            rooms,
            except,
            meta_key,
        };
        members.extend(crate::cluster::remote_members(&*self.inner.backplane, command).await?);
        Ok(members)
    }

    /// Hands a notice to the listeners of every node, this one's first; exactly once per node.
    pub(crate) async fn notify(&self, topic: &str, body: bytes::Bytes) -> Result<(), SendError> {
        self.inner.registry.notify(crate::registry::Notice {
            topic: topic.to_owned(),
            body: body.clone(),
        });
        self.inner
            .backplane
            .publish(Command::Notice {
                topic: topic.to_owned(),
                body,
            })
            .await
    }

    /// The nodes whose lease is alive, this one included.
    pub(crate) async fn live_nodes(&self) -> Result<Vec<NodeId>, SendError> {
        self.inner.backplane.live_nodes().await
    }

    /// A listener of the notices of every node.
    pub(crate) fn notices(&self) -> tokio::sync::broadcast::Receiver<crate::registry::Notice> {
        self.inner.registry.notices()
    }

    /// This node's members of any of `rooms` and of none of `except`, sorted.
    pub(crate) fn local_members(&self, rooms: &[String], except: &[String]) -> Vec<Fd> {
        let described = self.inner.registry.describe(rooms, except, "");
        described.into_iter().map(|member| member.fd).collect()
    }

    /// Pushes `message` to this node's members of `room` only.
    pub(crate) fn to_local_room(
        &self,
        room: &str,
        message: &Message,
        except: Option<Fd>,
    ) -> Delivery {
        self.inner.registry.push_room(room, message, except)
    }

    /// The rooms a connection of this node is in.
    pub fn rooms_of(&self, fd: Fd) -> Vec<String> {
        self.inner.registry.rooms_of(fd)
    }

    /// The fds this node holds, sorted.
    pub fn local_fds(&self) -> Vec<Fd> {
        self.inner.registry.fds()
    }

    /// How many connections this node holds.
    pub fn local_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Whether the cluster backplane is connected, subscribed and holds its lease (always true on
    /// a single node). While it is false, remote calls fail at once with
    /// [`SendError::BrokerUnavailable`]; local ones work as usual.
    pub fn cluster_ready(&self) -> bool {
        self.inner.backplane.is_ready()
    }
}

// Observability, kept apart from delivery: `ws_push_latency_seconds` at `/metrics`.
impl Sender {
    /// Times one call on `fd` until the returned guard drops.
    fn timed(&self, op: SenderOp, fd: Fd) -> LatencyTimer<'_> {
        self.inner
            .metrics
            .sender_latency
            .start(op, self.is_local(fd))
    }
}
