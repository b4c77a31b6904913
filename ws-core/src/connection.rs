//! [`Connection`]: the handle handlers get; and the task that owns each socket.

mod utf8_guard;

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tungstenite::error::{CapacityError, Error as WsError, ProtocolError};

use crate::message::{CloseFrame, CloseInfo, CloseInitiator, Message, close_frame};
use crate::metrics::{Metrics, Traffic};
use crate::outbox::Outbound;
use crate::registry::{ConnShared, Registry};
use crate::transport::Transport;
use crate::{Context, Fd, Request, SendError, Sender, WebSocketHandler};

use utf8_guard::InvalidText;
pub(crate) use utf8_guard::Utf8Guard;

/// The WebSocket stream of one connection.
pub(crate) type WsStream = WebSocketStream<Utf8Guard<Transport>>;

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
}

enum Event {
    Inbound(Message),
    ReadFailed(WsError),
    Eof,
    WriteFailed(WsError),
    CloseRequested(CloseFrame),
    Heartbeat,
}

/// Runs one connection from `on_open` to `on_close`. Generic over the handler so each message
/// is dispatched without boxing.
pub(crate) async fn serve<H: WebSocketHandler>(
    handler: Arc<H>,
    ws: WsStream,
    conn: Connection,
    request: Request,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    settings: &LoopSettings,
) {
    let fd = conn.fd();
    let mut session = Session {
        ws,
        pending: VecDeque::new(),
        dirty: false,
        traffic: Traffic::default(),
        heartbeat: settings
            .ping_interval
            .map(|i| (Box::pin(tokio::time::sleep(i)), i)),
        activity: false,
        ping_outstanding: false,
        metrics: metrics.clone(),
        close_timeout: settings.close_timeout,
    };

    let mut first_close = None;
    match AssertUnwindSafe(handler.on_open(&conn, &request))
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => handler_failed(&metrics, fd, "on_open", &error),
        Err(panic) => first_close = Some(handler_panicked(&metrics, fd, "on_open", panic)),
    }
    drop(request);

    let info = match first_close {
        Some(frame) => session.close_with(frame).await,
        None => session.run(&*handler, &conn).await,
    };
    session.traffic.report(&metrics);
    metrics.closed(info.code);
    registry.remove(fd);
    conn.shared.outbox.shut();
    // Dropping the socket before `on_close` frees it at once, whatever the handler does next.
    drop(session);
    tracing::debug!(fd = %fd, code = info.code, reason = %info.reason, "connection closed");
    if let Err(panic) = AssertUnwindSafe(handler.on_close(&conn, info))
        .catch_unwind()
        .await
    {
        handler_panicked(&metrics, fd, "on_close", panic);
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
    ws: WsStream,
    /// Items taken from the outbox that the socket has not accepted yet.
    pending: VecDeque<Outbound>,
    /// Whether frames were written since the last flush.
    dirty: bool,
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
                                return self.close_with(frame).await;
                            }
                        }
                    }
                    // tungstenite has queued the pong; it goes out with the next flush.
                    Message::Ping(_) => {
                        self.activity = true;
                        self.dirty = true;
                    }
                    Message::Pong(_) => self.activity = true,
                    Message::Close(frame) => {
                        conn.shared.outbox.shut();
                        return self.finish_peer_close(frame).await;
                    }
                    Message::Frame(_) => {}
                },
                Event::ReadFailed(error) => {
                    conn.shared.outbox.shut();
                    return self.fail(error).await;
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
                Event::CloseRequested(frame) => return self.close_with(frame).await,
                Event::Heartbeat => {
                    if let Some(info) = self.heartbeat() {
                        return info;
                    }
                }
            }
        }
    }

    /// One step of the connection: queued pushes go into the socket first, then a read, then a
    /// flush when nothing else is ready, so a burst of messages costs one write syscall.
    fn poll_event(&mut self, cx: &mut TaskContext<'_>, shared: &ConnShared) -> Poll<Event> {
        loop {
            if self.pending.is_empty()
                && shared.outbox.poll_take(cx, &mut self.pending).is_pending()
            {
                break;
            }
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Event::WriteFailed(e)),
                Poll::Pending => break,
            }
            while let Some(item) = self.pending.pop_front() {
                match item {
                    Outbound::Message(message) => {
                        self.traffic.messages_out += 1;
                        self.traffic.bytes_out += message.len() as u64;
                        if let Err(e) = Pin::new(&mut self.ws).start_send(message) {
                            return Poll::Ready(Event::WriteFailed(e));
                        }
                        self.dirty = true;
                    }
                    Outbound::Close(frame) => return Poll::Ready(Event::CloseRequested(frame)),
                }
                // `start_send` may have filled the write buffer; the socket must drain first.
                match Pin::new(&mut self.ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Event::WriteFailed(e)),
                    Poll::Pending => return self.poll_read_or_flush(cx),
                }
            }
        }
        self.poll_read_or_flush(cx)
    }

    fn poll_read_or_flush(&mut self, cx: &mut TaskContext<'_>) -> Poll<Event> {
        match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => return Poll::Ready(Event::Inbound(message)),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Event::ReadFailed(e)),
            Poll::Ready(None) => return Poll::Ready(Event::Eof),
            Poll::Pending => {}
        }
        if self.dirty {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.dirty = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Event::WriteFailed(e)),
                Poll::Pending => {}
            }
        }
        if let Some((timer, _)) = &mut self.heartbeat
            && timer.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Event::Heartbeat);
        }
        self.traffic.report(&self.metrics);
        Poll::Pending
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
        // a flush that never completes. The next tick decides whether it answered.
        match Pin::new(&mut self.ws).start_send(Message::Ping(Default::default())) {
            Ok(()) => {
                self.dirty = true;
                None
            }
            Err(e) => Some(CloseInfo::new(
                1006,
                format!("ping failed: {e}"),
                CloseInitiator::Transport,
            )),
        }
    }

    /// The client sent a close frame; tungstenite has queued the echo. Flush it and let the
    /// client close, bounded by the close timeout.
    async fn finish_peer_close(&mut self, frame: Option<CloseFrame>) -> CloseInfo {
        let info = match frame {
            Some(frame) => CloseInfo::new(
                u16::from(frame.code),
                frame.reason.as_str(),
                CloseInitiator::Client,
            ),
            // RFC 6455 §7.1.5: a close frame without a code is reported as 1005.
            None => CloseInfo::new(1005, "", CloseInitiator::Client),
        };
        self.drain_until_closed().await;
        info
    }

    /// Sends `frame` and waits (bounded) for the client's close frame.
    async fn close_with(&mut self, frame: CloseFrame) -> CloseInfo {
        let info = CloseInfo::new(
            u16::from(frame.code),
            frame.reason.as_str(),
            CloseInitiator::Server,
        );
        if tokio::time::timeout(self.close_timeout, self.ws.close(Some(frame)))
            .await
            .is_ok()
        {
            self.drain_until_closed().await;
        }
        info
    }

    /// Reads until the closing handshake is complete, then closes the socket's write side
    /// (which also sends TLS's close_notify): RFC 6455 §7.1.1 wants the server to close the TCP
    /// connection first, so the client does not have to.
    async fn drain_until_closed(&mut self) {
        let drain = async {
            let _ = self.ws.flush().await;
            while let Some(Ok(_)) = self.ws.next().await {}
            let _ = self.ws.get_mut().shutdown().await;
        };
        let _ = tokio::time::timeout(self.close_timeout, drain).await;
    }

    /// After failing the connection: no more frames are parsed (RFC 6455 §7.1.7; after a bad
    /// frame the stream may not even be framed right any more), but what the client still sends
    /// is read and discarded until it closes too, bounded by the close timeout. Closing a socket
    /// with unread data makes the kernel send a reset, which can destroy the close frame still
    /// on its way to the client.
    async fn linger(&mut self) {
        let raw = self.ws.get_mut().raw_mut();
        let discard = async {
            let _ = raw.shutdown().await;
            let mut scratch = vec![0u8; 4096];
            while let Ok(1..) = raw.read(&mut scratch).await {}
        };
        let _ = tokio::time::timeout(self.close_timeout, discard).await;
    }

    /// A read error: a protocol violation is answered with the matching close code (RFC 6455
    /// §7.4.1); a lost socket ends the connection as 1006.
    async fn fail(&mut self, error: WsError) -> CloseInfo {
        let (code, reason) = match &error {
            WsError::Io(e) if InvalidText::is(e) => {
                (1007, "invalid UTF-8 in a text message".to_string())
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) | WsError::Io(_) => {
                return CloseInfo::new(
                    1006,
                    format!("connection lost: {error}"),
                    CloseInitiator::Transport,
                );
            }
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                return CloseInfo::new(1006, "connection closed", CloseInitiator::Transport);
            }
            WsError::Protocol(_) => (1002, error.to_string()),
            WsError::Utf8(_) => (1007, "invalid UTF-8 in a text message".to_string()),
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
                1009,
                format!("message of {size} bytes exceeds the limit of {max_size}"),
            ),
            WsError::Capacity(e) => (1009, e.to_string()),
            _ => (1011, error.to_string()),
        };
        tracing::debug!(code, reason = %reason, "closing a connection that broke the protocol");
        let frame = close_frame(code, &reason);
        let info = CloseInfo::new(code, frame.reason.as_str(), CloseInitiator::Server);
        let _ = tokio::time::timeout(self.close_timeout, self.ws.close(Some(frame))).await;
        self.linger().await;
        info
    }
}
