//! [`Connection`]: the handle a connection's handlers get.

use std::future::Future;
use std::sync::Arc;

use crate::registry::ConnShared;
use crate::ws::message::{Message, close_frame};
use crate::ws::reply::Push;
use crate::{Context, Fd, SendError, Sender};

/// One open WebSocket connection, as its handlers see it.
///
/// Cheap to clone; a clone kept after the connection closed reports
/// [`SendError::NotConnected`] on every push.
///
/// ```no_run
/// # async fn demo(conn: &ws_core::Connection) -> ws_core::Result<()> {
/// conn.context().set("username", "alice".to_string());
/// conn.push("Opened").await?;
/// conn.close(1000, "bye").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<ConnShared>,
    sender: Sender,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.shared.fd)
            .field("server", &self.shared.server)
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(shared: Arc<ConnShared>, sender: Sender) -> Self {
        Self { shared, sender }
    }

    /// This connection's fd, unique across the cluster.
    pub fn fd(&self) -> Fd {
        self.shared.fd
    }

    /// The per-connection context (Hyperf's `Hyperf\WebSocketServer\Context`).
    pub fn context(&self) -> &Context {
        &self.shared.context
    }

    /// The name of the server this connection came in on.
    pub fn server(&self) -> &str {
        &self.shared.server
    }

    /// The route pattern that accepted this connection, e.g. `/room`.
    pub fn route(&self) -> &str {
        &self.shared.route
    }

    /// A [`Sender`] for reaching other connections.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Queues `message` for this client; fails with [`SendError::NotConnected`] once the
    /// connection is closing.
    ///
    /// From this connection's own `on_open` or `on_message`, a push into a full outbound queue
    /// **waits** for room: the connection reads nothing from its client meanwhile and writes its
    /// queue out, so a client that sends faster than it reads is slowed down by TCP and loses no
    /// reply. From anywhere else (a spawned task, another connection, an HTTP handler) the
    /// server's `backpressure` policy applies at once: [`SendError::Backpressure`], or the
    /// connection is closed with 1008 — a slow client never stalls its senders.
    ///
    /// `Ok` means the message is queued for this open connection, in order after everything
    /// pushed to it before; it can still be lost if the connection drops before it is written.
    /// The message is queued when `push` is called unless it has to wait for room.
    pub fn push(
        &self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'static {
        Push::new(&self.shared, message.into())
    }

    /// Starts the closing handshake with `code` and `reason`, after what is already queued.
    /// Like [`push`](Self::push), it acts at once.
    pub fn close(
        &self,
        code: u16,
        reason: &str,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'static {
        std::future::ready(self.shared.close(close_frame(code, reason)))
    }

    /// Joins `room` (cluster-wide).
    pub async fn join(&self, room: &str) -> Result<bool, SendError> {
        self.sender.join(self.fd(), room).await
    }

    /// Leaves `room`.
    pub async fn leave(&self, room: &str) -> Result<bool, SendError> {
        self.sender.leave(self.fd(), room).await
    }
}
