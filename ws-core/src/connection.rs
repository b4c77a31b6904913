//! [`Connection`]: the handle handlers get; and the task that owns each socket.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::codec::{Decoder, Encoder, Limits, Violation};
use crate::heartbeat::Due;
use crate::message::{CloseFrame, CloseInfo, CloseInitiator, Message, close_frame};
use crate::metrics::{Metrics, Traffic};
use crate::outbox::{Outbound, Wait};
use crate::registry::ConnShared;
use crate::server::ws::{OpenSlot, ServerShared};
use crate::transport::Transport;
use crate::{Context, Fd, Request, SendError, Sender, WebSocketHandler};

/// A socket whose upgrade was just accepted.
#[derive(Debug)]
pub(crate) struct Upgraded {
    pub(crate) transport: Transport,
    /// Bytes the client sent after its upgrade request, read with it.
    pub(crate) already_read: Vec<u8>,
}

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
    shared: Arc<ConnShared>,
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

    /// Queues `message` for this client. Fails with [`SendError::Backpressure`] when the client is
    /// not reading and with [`SendError::NotConnected`] once the connection is closing.
    ///
    /// The message is queued when `push` is called; the returned future is already complete.
    /// It is a future so that a cluster-aware push could wait later without breaking callers,
    /// and it holds no state: a handler awaiting it keeps no copy of the message in its own
    /// future, which lives as long as the connection.
    pub fn push(
        &self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + 'static {
        std::future::ready(self.shared.push(message.into()))
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

/// What the connection loop needs besides the socket and the handler.
#[derive(Debug)]
pub(crate) struct LoopSettings {
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) limits: Limits,
    /// Bytes gathered for the socket before the outbound queue is left alone until they drain.
    pub(crate) write_buffer_size: usize,
}

/// What an inbound message asks of the loop.
enum Inbound {
    Data(Message),
    Handled,
    Closed(Option<CloseFrame>),
}

/// Why the message loop stops.
enum Ending {
    Violation(Violation),
    ReadFailed(io::Error),
    Eof,
    WriteFailed(io::Error),
    CloseRequested(CloseFrame),
    /// The heartbeat sweep found the client silent since its last ping.
    Silent,
}

/// Runs one connection from `on_open` to `on_close`. Generic over the handler so each message
/// is dispatched without boxing.
///
/// The future lives as long as the connection, so its size is every idle connection's cost.
/// It is an async block rather than an async fn because rustc stores an async fn's arguments
/// twice (as passed, and as moved into the body), and the session is built out here for the
/// same reason. What runs once (on_open and the request, the closing handshakes, on_close) is
/// boxed, so the future is only as large as the message loop needs.
pub(crate) fn serve<H: WebSocketHandler>(
    handler: Arc<H>,
    socket: Upgraded,
    conn: Connection,
    request: Box<Request>,
    server: Arc<ServerShared>,
    slot: OpenSlot,
) -> impl Future<Output = ()> + Send + 'static {
    let settings = &server.loop_settings;
    let (io, shared_socket) = socket.transport.share();
    if let Some(shared_socket) = shared_socket {
        conn.shared.outbox.attach(shared_socket);
    }
    let mut session = Session {
        io,
        decoder: Decoder::new(settings.limits, socket.already_read),
        encoder: Encoder::default(),
        pending: VecDeque::new(),
        outbox_drained: false,
        waiting: false,
        write_buffer_size: settings.write_buffer_size,
        traffic: Traffic::default(),
        metrics: server.app.metrics.clone(),
        close_timeout: settings.close_timeout,
    };
    async move {
        let metrics = &server.app.metrics;
        let fd = conn.fd();
        let closed_at_open = Box::pin(async {
            let outcome = AssertUnwindSafe(handler.on_open(&conn, &request))
                .catch_unwind()
                .await;
            drop(request);
            match outcome {
                Ok(Ok(())) => None,
                Ok(Err(error)) => {
                    handler_failed(metrics, fd, "on_open", &error);
                    None
                }
                Err(panic) => {
                    let frame = handler_panicked(metrics, fd, "on_open", panic);
                    Some(session.close_with(frame).await)
                }
            }
        })
        .await;
        let info = match closed_at_open {
            Some(info) => info,
            None => session.run(&*handler, &conn).await,
        };
        session.traffic.report(metrics);
        metrics.closed(info.code);
        server.app.registry.remove(fd);
        conn.shared.outbox.shut();
        // Dropping the socket before `on_close` frees it at once, whatever the handler does next.
        drop(session);
        tracing::debug!(fd = %fd, code = info.code, reason = %info.reason, "connection closed");
        if let Err(panic) =
            Box::pin(AssertUnwindSafe(handler.on_close(&conn, info)).catch_unwind()).await
        {
            handler_panicked(metrics, fd, "on_close", panic);
        }
        conn.shared.context.clear();
        // Only now is the connection gone: shutdown waits for its `on_close`.
        drop(slot);
    }
}

fn handler_failed(metrics: &Metrics, fd: Fd, callback: &str, error: &crate::Error) {
    metrics
        .handler_errors
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // A refused push (a client not reading, a gone fd) is a normal outcome the handler chose to
    // pass up; under a flood it happens per message, and a warning each time would be log spam.
    if error.downcast_ref::<SendError>().is_some() {
        tracing::debug!(fd = %fd, callback, error = %error, "handler returned an error; the connection stays open");
    } else {
        tracing::warn!(fd = %fd, callback, error = %error, "handler returned an error; the connection stays open");
    }
}

/// Counts and logs a handler panic; the close frame that ends its connection.
///
/// Takes the payload as `catch_unwind` returns it: a `&Box<dyn Any>` passed where a `&dyn Any`
/// is expected coerces to the box itself, and the panic message would be lost.
fn handler_panicked(
    metrics: &Metrics,
    fd: Fd,
    callback: &str,
    panic: Box<dyn std::any::Any + Send>,
) -> CloseFrame {
    metrics
        .handler_panics
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = crate::server::ws::panic_text(&*panic);
    if callback == "on_close" {
        tracing::error!(fd = %fd, callback, panic = %text, "handler panicked after its connection closed");
    } else {
        tracing::error!(fd = %fd, callback, panic = %text, "handler panicked; closing the connection with 1011");
    }
    close_frame(1011, "internal error")
}

struct Session {
    io: Transport,
    decoder: Decoder,
    encoder: Encoder,
    /// Items just taken from the outbox, on their way into the encoder.
    pending: VecDeque<Outbound>,
    /// Whether the outbox was found empty (rather than left alone while the encoder was full).
    outbox_drained: bool,
    /// Whether the task waits in the outbox (and room pushes may be writing to the socket)
    /// since its last poll.
    waiting: bool,
    write_buffer_size: usize,
    traffic: Traffic,
    metrics: Arc<Metrics>,
    close_timeout: Duration,
}

impl Session {
    async fn run<H: WebSocketHandler>(&mut self, handler: &H, conn: &Connection) -> CloseInfo {
        loop {
            // The message only exists within this statement, moved into the handler's future:
            // nothing but that future is stored across the await below.
            let handled = match poll_fn(|cx| self.poll_event(cx, &conn.shared)).await {
                Ok(message) => match self.inbound(message, &conn.shared) {
                    Inbound::Data(message) => {
                        AssertUnwindSafe(handler.on_message(conn, message)).catch_unwind()
                    }
                    Inbound::Handled => continue,
                    Inbound::Closed(frame) => {
                        conn.shared.outbox.shut();
                        return Box::pin(self.finish_peer_close(frame)).await;
                    }
                },
                Err(ending) => return Box::pin(self.end(ending, conn)).await,
            };
            match handled.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => handler_failed(&self.metrics, conn.fd(), "on_message", &error),
                Err(panic) => {
                    let frame = handler_panicked(&self.metrics, conn.fd(), "on_message", panic);
                    conn.shared.outbox.shut();
                    return Box::pin(self.close_with(frame)).await;
                }
            }
        }
    }

    /// Takes in one message: data for the handler; control frames are answered here.
    fn inbound(&mut self, message: Message, shared: &ConnShared) -> Inbound {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                shared.liveness.heard();
                self.traffic.messages_in += 1;
                self.traffic.bytes_in += message.len() as u64;
                Inbound::Data(message)
            }
            // RFC 6455 §5.5.2: a pong with the ping's payload, with the next write.
            Message::Ping(payload) => {
                shared.liveness.heard();
                self.encoder.message(Message::Pong(payload));
                Inbound::Handled
            }
            Message::Pong(_) => {
                shared.liveness.heard();
                Inbound::Handled
            }
            Message::Close(frame) => Inbound::Closed(frame),
            Message::Frame(_) => Inbound::Handled,
        }
    }

    /// Ends the connection the way `ending` calls for.
    async fn end(&mut self, ending: Ending, conn: &Connection) -> CloseInfo {
        match ending {
            Ending::Violation(violation) => {
                // Answers to the messages before the bad frame still go out, ahead of the
                // close frame.
                self.encode_queued(&conn.shared);
                conn.shared.outbox.shut();
                self.fail(violation).await
            }
            Ending::ReadFailed(error) => CloseInfo::new(
                1006,
                format!("connection lost: {error}"),
                CloseInitiator::Transport,
            ),
            Ending::Eof => CloseInfo::new(
                1006,
                "connection closed without a close frame",
                CloseInitiator::Transport,
            ),
            Ending::WriteFailed(error) => CloseInfo::new(
                1006,
                format!("write failed: {error}"),
                CloseInitiator::Transport,
            ),
            Ending::CloseRequested(frame) => self.close_with(frame).await,
            Ending::Silent => CloseInfo::new(
                1006,
                "no pong to the heartbeat ping",
                CloseInitiator::Transport,
            ),
        }
    }

    /// One step of the connection. Messages already read are handed out first; before the
    /// socket is read again, what the handlers queued meanwhile moves into the encoder; the
    /// socket is written once nothing more can be read, so a burst of messages costs one read
    /// and one write syscall.
    fn poll_event(
        &mut self,
        cx: &mut TaskContext<'_>,
        shared: &ConnShared,
    ) -> Poll<Result<Message, Ending>> {
        loop {
            if self.waiting {
                self.waiting = false;
                if let Some(rest) = shared.outbox.resume() {
                    self.encoder.raw(rest);
                }
            }
            match shared.liveness.due() {
                Due::Nothing => {}
                // Queued, not awaited: a peer that stopped reading would otherwise stall the
                // loop on a write that never completes. The next sweep decides whether it
                // answered.
                Due::Ping => self.encoder.message(Message::Ping(Default::default())),
                Due::Drop => return Poll::Ready(Err(Ending::Silent)),
            }
            loop {
                match self.decoder.next_buffered() {
                    Ok(Some(message)) => return Poll::Ready(Ok(message)),
                    Ok(None) => {}
                    Err(violation) => return Poll::Ready(Err(Ending::Violation(violation))),
                }
                if let Some(frame) = self.take_outbox(shared) {
                    return Poll::Ready(Err(Ending::CloseRequested(frame)));
                }
                // A connection woken to send (a room member, a client pushed to) mostly has
                // nothing to read: asking the socket first spares allocating a read buffer
                // only to free it again (~360 instructions per wake-up, callgrind).
                if !self.decoder.holds_buffer() && self.io.poll_read_ready(cx).is_pending() {
                    break;
                }
                match self.decoder.poll_fill(cx, &mut self.io) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(Ending::Eof)),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Ending::ReadFailed(e))),
                    Poll::Pending => break,
                }
            }
            if !self.encoder.is_empty() {
                match self.encoder.poll_write(cx, &mut self.io) {
                    // The outbox was left alone while the encoder was full: take the rest now.
                    Poll::Ready(Ok(())) if !self.outbox_drained => continue,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Ending::WriteFailed(e))),
                    Poll::Pending => {}
                }
            }
            self.traffic.report(&self.metrics);
            match shared
                .outbox
                .wait(cx, self.outbox_drained, self.encoder.is_empty())
            {
                Wait::Again => continue,
                Wait::Waiting => self.waiting = true,
            }
            // Nothing half-read and nothing unsent: an idle connection holds no buffers.
            self.decoder.release();
            self.encoder.release();
            return Poll::Pending;
        }
    }

    /// Moves queued pushes into the encoder until it holds `write_buffer_size` bytes; a close
    /// request ends the move and is returned.
    fn take_outbox(&mut self, shared: &ConnShared) -> Option<CloseFrame> {
        self.outbox_drained = false;
        while self.encoder.queued() < self.write_buffer_size {
            if !shared.outbox.take(&mut self.pending) {
                self.outbox_drained = true;
                return None;
            }
            while let Some(item) = self.pending.pop_front() {
                if let Some(frame) = self.encode(item) {
                    // A close request comes last: the outbox accepts nothing after it.
                    self.pending.clear();
                    return Some(frame);
                }
            }
        }
        None
    }

    /// Moves one queued item into the encoder; a close request is returned instead.
    fn encode(&mut self, item: Outbound) -> Option<CloseFrame> {
        match item {
            Outbound::Message(message) => {
                self.traffic.messages_out += 1;
                self.traffic.bytes_out += message.len() as u64;
                self.encoder.message(message);
                None
            }
            Outbound::Rest(rest) => {
                self.encoder.raw(rest);
                None
            }
            Outbound::Close(frame) => Some(frame),
        }
    }

    /// Moves every queued message into the encoder, whatever its size; a queued close request
    /// is dropped (the caller is closing anyway).
    fn encode_queued(&mut self, shared: &ConnShared) {
        shared.outbox.take(&mut self.pending);
        while let Some(item) = self.pending.pop_front() {
            let _closing_anyway = self.encode(item);
        }
    }

    /// Writes everything queued.
    async fn write_out(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.encoder.poll_write(cx, &mut self.io)).await
    }

    /// The next frame the client sends: `None` at the end of the stream or on any error, which
    /// only matters here while a closing handshake is finishing.
    async fn next_inbound(&mut self) -> Option<Message> {
        poll_fn(|cx| {
            loop {
                match self.decoder.next_buffered() {
                    Ok(Some(message)) => return Poll::Ready(Some(message)),
                    Ok(None) => {}
                    Err(_) => return Poll::Ready(None),
                }
                match self.decoder.poll_fill(cx, &mut self.io) {
                    Poll::Ready(Ok(1..)) => {}
                    Poll::Ready(_) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// The client sent a close frame: echo it (RFC 6455 §5.5.1), then close
    /// the TCP connection, bounded by the close timeout.
    async fn finish_peer_close(&mut self, frame: Option<CloseFrame>) -> CloseInfo {
        let info = match &frame {
            Some(frame) => CloseInfo::new(
                u16::from(frame.code),
                frame.reason.as_str(),
                CloseInitiator::Client,
            ),
            // RFC 6455 §7.1.5: a close frame without a code is reported as 1005.
            None => CloseInfo::new(1005, "", CloseInitiator::Client),
        };
        self.encoder.close(frame.as_ref());
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_ok() {
                let _ = self.io.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }

    /// Sends `frame` after what is already queued and waits (bounded) for the client's close
    /// frame; data messages arriving meanwhile are dropped (RFC 6455 §5.5.1).
    async fn close_with(&mut self, frame: CloseFrame) -> CloseInfo {
        let info = CloseInfo::new(
            u16::from(frame.code),
            frame.reason.as_str(),
            CloseInitiator::Server,
        );
        self.encoder.close(Some(&frame));
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_err() {
                return;
            }
            while let Some(message) = self.next_inbound().await {
                if message.is_close() {
                    break;
                }
            }
            // RFC 6455 §7.1.1: the server closes the TCP connection first, so the client
            // does not have to; this also sends TLS's close_notify.
            let _ = self.io.shutdown().await;
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }

    /// After failing a connection: the write side is shut, then whatever the client still sends
    /// is read and discarded until it closes too. Closing a socket with unread data makes the
    /// kernel send a reset, which can destroy the close frame still on its way to the client.
    /// Callers bound this with the close timeout.
    async fn shutdown_and_drain(&mut self) {
        let _ = self.io.shutdown().await;
        let mut scratch = [0u8; 512];
        while let Ok(1..) = self.io.read(&mut scratch).await {}
    }

    /// The client broke the protocol: answer with the matching close code (RFC 6455 §7.4.1),
    /// parse nothing more (§7.1.7: the stream may not even be framed right any more), and
    /// linger until the client closes, bounded by the close timeout.
    async fn fail(&mut self, violation: Violation) -> CloseInfo {
        tracing::debug!(code = violation.code, reason = %violation.reason, "closing a connection that broke the protocol");
        let frame = close_frame(violation.code, &violation.reason);
        let info = CloseInfo::new(
            violation.code,
            frame.reason.as_str(),
            CloseInitiator::Server,
        );
        self.encoder.close(Some(&frame));
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_ok() {
                self.shutdown_and_drain().await;
            }
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }
}
