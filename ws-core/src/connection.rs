//! [`Connection`]: the handle handlers get; and the task that owns each socket.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, Sleep};

use crate::codec::{Decoder, Encoder, Limits, Violation};
use crate::message::{CloseFrame, CloseInfo, CloseInitiator, Message, close_frame};
use crate::metrics::{Metrics, Traffic};
use crate::outbox::Outbound;
use crate::registry::ConnShared;
use crate::server::ws::ServerShared;
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
    pub async fn push(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.shared.push(message.into())
    }

    /// Starts the closing handshake with `code` and `reason`, after what is already queued.
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        self.shared.close(close_frame(code, reason))
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

enum Event {
    Inbound(Message),
    Violation(Violation),
    ReadFailed(io::Error),
    Eof,
    WriteFailed(io::Error),
    CloseRequested(CloseFrame),
    Heartbeat,
}

/// Runs one connection from `on_open` to `on_close`. Generic over the handler so each message
/// is dispatched without boxing.
///
/// This future lives as long as the connection, and rustc stores every argument of an async fn
/// for its whole life: the request is boxed so it costs a pointer once `on_open` has seen it.
pub(crate) async fn serve<H: WebSocketHandler>(
    handler: Arc<H>,
    socket: Upgraded,
    conn: Connection,
    request: Box<Request>,
    server: Arc<ServerShared>,
) {
    let registry = &server.app.registry;
    let metrics = &server.app.metrics;
    let settings = &server.loop_settings;
    let fd = conn.fd();
    let mut session = Session {
        io: socket.transport,
        decoder: Decoder::new(settings.limits, socket.already_read),
        encoder: Encoder::default(),
        pending: VecDeque::new(),
        outbox_armed: false,
        write_buffer_size: settings.write_buffer_size,
        traffic: Traffic::default(),
        heartbeat: settings
            .ping_interval
            .map(|i| (Box::pin(tokio::time::sleep(i)), i)),
        activity: false,
        ping_outstanding: false,
        metrics: metrics.clone(),
        close_timeout: settings.close_timeout,
    };

    // The future's size is that of its largest state: what runs once (on_open, the closing
    // handshakes, on_close) is boxed, so an idle connection only pays for the message loop.
    let opened = Box::pin(async {
        let outcome = AssertUnwindSafe(handler.on_open(&conn, &request))
            .catch_unwind()
            .await;
        drop(request);
        outcome
    })
    .await;
    let first_close = match opened {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            handler_failed(metrics, fd, "on_open", &error);
            None
        }
        Err(panic) => Some(handler_panicked(metrics, fd, "on_open", panic)),
    };

    let info = match first_close {
        Some(frame) => Box::pin(session.close_with(frame)).await,
        None => session.run(&*handler, &conn).await,
    };
    session.traffic.report(metrics);
    metrics.closed(info.code);
    registry.remove(fd);
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
    /// Whether the outbox will wake the task on its next push: it was found empty.
    outbox_armed: bool,
    write_buffer_size: usize,
    traffic: Traffic,
    heartbeat: Option<(Pin<Box<Sleep>>, Duration)>,
    /// Whether anything arrived since the last heartbeat tick.
    activity: bool,
    ping_outstanding: bool,
    metrics: Arc<Metrics>,
    close_timeout: Duration,
}

impl Session {
    async fn run<H: WebSocketHandler>(&mut self, handler: &H, conn: &Connection) -> CloseInfo {
        loop {
            let event = poll_fn(|cx| self.poll_event(cx, &conn.shared)).await;
            match event {
                Event::Inbound(message) => match message {
                    Message::Text(_) | Message::Binary(_) => {
                        self.activity = true;
                        self.traffic.messages_in += 1;
                        self.traffic.bytes_in += message.len() as u64;
                        match AssertUnwindSafe(handler.on_message(conn, message))
                            .catch_unwind()
                            .await
                        {
                            Ok(Ok(())) => {}
                            Ok(Err(error)) => {
                                handler_failed(&self.metrics, conn.fd(), "on_message", &error)
                            }
                            Err(panic) => {
                                let frame =
                                    handler_panicked(&self.metrics, conn.fd(), "on_message", panic);
                                conn.shared.outbox.shut();
                                return Box::pin(self.close_with(frame)).await;
                            }
                        }
                    }
                    // RFC 6455 §5.5.2: a pong with the ping's payload, with the next write.
                    Message::Ping(payload) => {
                        self.activity = true;
                        self.encoder.message(Message::Pong(payload));
                    }
                    Message::Pong(_) => self.activity = true,
                    Message::Close(frame) => {
                        conn.shared.outbox.shut();
                        return Box::pin(self.finish_peer_close(frame)).await;
                    }
                    Message::Frame(_) => {}
                },
                Event::Violation(violation) => {
                    // Answers to the messages before the bad frame still go out, ahead of the
                    // close frame.
                    self.encode_queued(&conn.shared);
                    conn.shared.outbox.shut();
                    return Box::pin(self.fail(violation)).await;
                }
                Event::ReadFailed(error) => {
                    return CloseInfo::new(
                        1006,
                        format!("connection lost: {error}"),
                        CloseInitiator::Transport,
                    );
                }
                Event::Eof => {
                    return CloseInfo::new(
                        1006,
                        "connection closed without a close frame",
                        CloseInitiator::Transport,
                    );
                }
                Event::WriteFailed(error) => {
                    return CloseInfo::new(
                        1006,
                        format!("write failed: {error}"),
                        CloseInitiator::Transport,
                    );
                }
                Event::CloseRequested(frame) => return Box::pin(self.close_with(frame)).await,
                Event::Heartbeat => {
                    if let Some(info) = self.heartbeat() {
                        return info;
                    }
                }
            }
        }
    }

    /// One step of the connection. Messages already read are handed out first; before the
    /// socket is read again, what the handlers queued meanwhile moves into the encoder; the
    /// socket is written once nothing more can be read, so a burst of messages costs one read
    /// and one write syscall.
    fn poll_event(&mut self, cx: &mut TaskContext<'_>, shared: &ConnShared) -> Poll<Event> {
        loop {
            loop {
                match self.decoder.next_buffered() {
                    Ok(Some(message)) => return Poll::Ready(Event::Inbound(message)),
                    Ok(None) => {}
                    Err(violation) => return Poll::Ready(Event::Violation(violation)),
                }
                if let Some(frame) = self.take_outbox(cx, shared) {
                    return Poll::Ready(Event::CloseRequested(frame));
                }
                match self.decoder.poll_fill(cx, &mut self.io) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Event::Eof),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Event::ReadFailed(e)),
                    Poll::Pending => break,
                }
            }
            if !self.encoder.is_empty() {
                match self.encoder.poll_write(cx, &mut self.io) {
                    // The outbox was left alone while the encoder was full: take the rest now.
                    Poll::Ready(Ok(())) if !self.outbox_armed => continue,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Event::WriteFailed(e)),
                    Poll::Pending => {}
                }
            }
            break;
        }
        if let Some((timer, _)) = &mut self.heartbeat
            && timer.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Event::Heartbeat);
        }
        self.traffic.report(&self.metrics);
        // Nothing half-read and nothing unsent: an idle connection holds no buffers.
        self.decoder.release();
        self.encoder.release();
        Poll::Pending
    }

    /// Moves queued pushes into the encoder until it holds `write_buffer_size` bytes; a close
    /// request ends the move and is returned.
    fn take_outbox(&mut self, cx: &mut TaskContext<'_>, shared: &ConnShared) -> Option<CloseFrame> {
        self.outbox_armed = false;
        while self.encoder.queued() < self.write_buffer_size {
            if shared.outbox.poll_take(cx, &mut self.pending).is_pending() {
                self.outbox_armed = true;
                return None;
            }
            while let Some(item) = self.pending.pop_front() {
                match item {
                    Outbound::Message(message) => {
                        self.traffic.messages_out += 1;
                        self.traffic.bytes_out += message.len() as u64;
                        self.encoder.message(message);
                    }
                    Outbound::Close(frame) => {
                        // A close request comes last: the outbox accepts nothing after it.
                        self.pending.clear();
                        return Some(frame);
                    }
                }
            }
        }
        None
    }

    /// Moves every queued message into the encoder, whatever its size; a queued close request
    /// is dropped (the caller is closing anyway).
    fn encode_queued(&mut self, shared: &ConnShared) {
        shared.outbox.take(&mut self.pending);
        for item in self.pending.drain(..) {
            if let Outbound::Message(message) = item {
                self.traffic.messages_out += 1;
                self.traffic.bytes_out += message.len() as u64;
                self.encoder.message(message);
            }
        }
    }

    /// A heartbeat tick: ping a silent client, give up on one that stayed silent after a ping.
    fn heartbeat(&mut self) -> Option<CloseInfo> {
        let (timer, interval) = self.heartbeat.as_mut()?;
        timer.as_mut().reset(Instant::now() + *interval);
        let interval = *interval;
        if self.activity {
            self.activity = false;
            self.ping_outstanding = false;
            return None;
        }
        if self.ping_outstanding {
            return Some(CloseInfo::new(
                1006,
                format!("no pong within {} ms", interval.as_millis()),
                CloseInitiator::Transport,
            ));
        }
        self.ping_outstanding = true;
        // Queued, not awaited: a peer that stopped reading would otherwise stall the loop on
        // a write that never completes. The next tick decides whether it answered.
        self.encoder.message(Message::Ping(Default::default()));
        None
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
