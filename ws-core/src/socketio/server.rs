//! [`SocketIo`]: reach Socket.IO clients from anywhere — HTTP controllers, background tasks,
//! other namespaces — across the cluster.

use std::sync::Arc;

use super::emit::{EmitError, Operator, RemoteSocket};
use super::payload::IntoPayload;
use super::presence::PresenceEvents;
use super::recovery::Recovery;
use crate::BootError;
use crate::Sender;
use crate::di::{Container, Inject, InjectSite};

/// The Socket.IO server handle (Socket.IO's `io`): emits to namespaces and rooms, lists sockets
/// and counts rooms on every node, through the same backplane as [`Sender`].
///
/// Inject it with `#[inject] io: SocketIo`.
///
/// ```no_run
/// # async fn demo(io: ws_core::socketio::SocketIo) -> Result<(), ws_core::socketio::EmitError> {
/// io.to("news").emit("event", "extra!").await?;
/// for socket in io.fetch_sockets("news").await? {
///     println!("{} reads the news", socket.id());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SocketIo {
    sender: Sender,
    recovery: Arc<Recovery>,
}

impl SocketIo {
    /// A handle that reaches the cluster through `sender`, outside an app's container (a test
    /// server, a tool): its emits are not recorded for connection state recovery. Inject
    /// `SocketIo` to get the app's own, which records the emits of recovering namespaces.
    pub fn new(sender: Sender) -> Self {
        Self {
            sender,
            recovery: Arc::new(Recovery::off()),
        }
    }

    /// Every socket of `namespace` (e.g. `"/"`); narrow it with `to` and `except`.
    pub fn of(&self, namespace: &str) -> Operator {
        Operator::new(
            self.sender.clone(),
            Arc::from(namespace),
            self.recovery.clone(),
        )
    }

    /// The members of `room` in the `/` namespace.
    pub fn to(&self, room: &str) -> Operator {
        self.of("/").to(room)
    }

    /// Sends `event` to every socket of the `/` namespace.
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        self.of("/").emit(event, data).await
    }

    /// The sockets of the `/` namespace in `room`, on every node.
    pub async fn fetch_sockets(&self, room: &str) -> Result<Vec<RemoteSocket>, EmitError> {
        self.to(room).fetch_sockets().await
    }

    /// The presence changes of every namespace, room and node from now on, each once on this
    /// node; see [`PresenceEvents`] and [`Socket::set_presence`](super::Socket::set_presence).
    ///
    /// ```no_run
    /// # async fn demo(io: ws_core::socketio::SocketIo) {
    /// use ws_core::socketio::PresenceKind;
    ///
    /// let mut changes = io.presence();
    /// while let Some(change) = changes.recv().await {
    ///     if change.kind == PresenceKind::Leave {
    ///         println!("{} left {} on node {}", change.socket_id, change.room, change.node);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn presence(&self) -> PresenceEvents {
        PresenceEvents::new(self.sender.clone())
    }

    /// How many sockets of the `/` namespace are in `room`, across the cluster.
    pub async fn room_size(&self, room: &str) -> Result<usize, EmitError> {
        self.to(room).size().await
    }
}

impl Inject for SocketIo {
    fn inject(container: &mut Container, site: InjectSite) -> Result<Self, BootError> {
        Ok(Self {
            sender: container.sender(),
            recovery: container.get::<Recovery>(site)?,
        })
    }
}
