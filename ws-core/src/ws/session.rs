//! A connection's task and its message loop: where a frame is read, handed to the handler, and
//! where queued pushes are written to the socket.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::FutureExt;

use crate::metrics::{Metrics, Traffic};
use crate::registry::ConnShared;
use crate::ws::codec::{Decoder, Deflater, Encoder, Params, Violation};
use crate::ws::connection::Connection;
use crate::ws::dispatch::{handler_failed, handler_panicked};
use crate::ws::liveness::Due;
use crate::ws::message::{CloseFrame, CloseInfo, Message};
use crate::ws::outbox::{Outbound, Wait};
use crate::ws::reply;
use crate::ws::slot::OpenSlot;
use crate::ws::transport::Transport;
use crate::{Request, WebSocketHandler};

/// A socket whose upgrade was just accepted.
#[derive(Debug)]
pub(crate) struct Upgraded {
    pub(crate) transport: Transport,
    /// Bytes the client sent after its upgrade request, read with it.
    pub(crate) already_read: Vec<u8>,
    /// permessage-deflate, when the handshake agreed on it.
    pub(crate) deflate: Option<Params>,
}

/// What an inbound message asks of the loop.
enum Inbound {
    Data(Message),
    Handled,
    Closed(Option<CloseFrame>),
}

/// Why the message loop stops.
pub(super) enum Ending {
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
    slot: OpenSlot,
) -> impl Future<Output = ()> + Send + 'static {
    let server = slot.server();
    let settings = &server.settings;
    let (io, shared_socket) = socket.transport.share();
    if let Some(shared_socket) = shared_socket {
        conn.shared.outbox.attach(shared_socket);
    }
    let mut session = Session {
        io,
        decoder: Decoder::new(settings.limits, socket.already_read).inflating(socket.deflate),
        encoder: Encoder::deflating(socket.deflate.and_then(|params| {
            Deflater::new(
                params,
                settings.compression_level,
                settings.compression_threshold,
            )
        })),
        pending: VecDeque::new(),
        outbox_drained: false,
        waiting: false,
        write_buffer_size: settings.write_buffer_size,
        traffic: Traffic::default(),
        metrics: server.metrics.clone(),
        close_timeout: settings.close_timeout,
        write_error: None,
    };
    async move {
        let server = slot.server();
        let metrics = &server.metrics;
        let fd = conn.fd();
        let closed_at_open = Box::pin(async {
            let on_open = AssertUnwindSafe(handler.on_open(&conn, &request)).catch_unwind();
            let outcome = Dispatch::new(&mut session, &conn.shared, on_open).await;
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
        session.traffic.compressions += u64::from(session.encoder.take_compressions());
        session.traffic.report(metrics);
        metrics.closed(info.code);
        server.registry.remove(fd);
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
        if let Some(clients) = &server.clients {
            clients.closed(fd);
        }
        // Only now is the connection gone: shutdown waits for its `on_close`.
        drop(slot);
    }
}

pin_project_lite::pin_project! {
    /// A handler callback of this connection, run to completion by the session (see
    /// `Session::poll_dispatch`). A future of its own rather than an async fn or a `poll_fn`
    /// over a pinned local: the connection's task keeps it inline for as long as a handler runs,
    /// and this shape adds only the two references to the callback's own size.
    struct Dispatch<'s, F> {
        session: &'s mut Session,
        shared: &'s ConnShared,
        #[pin]
        callback: F,
    }
}

impl<'s, F: Future> Dispatch<'s, F> {
    fn new(session: &'s mut Session, shared: &'s ConnShared, callback: F) -> Self {
        Self {
            session,
            shared,
            callback,
        }
    }
}

impl<F: Future> Future for Dispatch<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.session.poll_dispatch(cx, this.shared, this.callback)
    }
}

pub(super) struct Session {
    pub(super) io: Transport,
    pub(super) decoder: Decoder,
    pub(super) encoder: Encoder,
    /// Items just taken from the outbox, on their way into the encoder.
    pub(super) pending: VecDeque<Outbound>,
    /// Whether the outbox was found empty (rather than left alone while the encoder was full).
    pub(super) outbox_drained: bool,
    /// Whether the task waits in the outbox (and room pushes may be writing to the socket)
    /// since its last poll.
    pub(super) waiting: bool,
    pub(super) write_buffer_size: usize,
    pub(super) traffic: Traffic,
    pub(super) metrics: Arc<Metrics>,
    pub(super) close_timeout: Duration,
    /// A write that failed while a handler ran; the session ends once it returns.
    pub(super) write_error: Option<io::Error>,
}

impl Session {
    async fn run<H: WebSocketHandler>(&mut self, handler: &H, conn: &Connection) -> CloseInfo {
        loop {
            if let Some(error) = self.write_error.take() {
                return Box::pin(self.end(Ending::WriteFailed(error), conn)).await;
            }
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
            match Dispatch::new(self, &conn.shared, handled).await {
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
            self.traffic.compressions += u64::from(self.encoder.take_compressions());
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
        // A close request left waiting while the handler ran goes out first.
        if !self.pending.is_empty()
            && let Some(frame) = self.encode_pending()
        {
            return Some(frame);
        }
        while self.encoder.queued() < self.write_buffer_size {
            if !shared.outbox.take(&mut self.pending) {
                self.outbox_drained = true;
                return None;
            }
            if let Some(frame) = self.encode_pending() {
                return Some(frame);
            }
        }
        None
    }

    /// Moves what was taken from the outbox into the encoder; a close request ends the move and
    /// is returned.
    #[inline]
    fn encode_pending(&mut self) -> Option<CloseFrame> {
        while let Some(item) = self.pending.pop_front() {
            if let Some(frame) = self.encode(item) {
                // A close request comes last: the outbox accepts nothing after it.
                self.pending.clear();
                return Some(frame);
            }
        }
        None
    }

    /// One poll of a handler callback of this connection, driven to completion by [`Dispatch`]. While it waits, the session writes out what it queued, so its own
    /// pushes waiting for room (`ws/reply.rs`) get it; nothing is read meanwhile, so a client
    /// that sends faster than it reads is held back by TCP. A write failure shuts the outbox
    /// (the callback's pushes then fail) and is reported once the callback returns.
    #[inline]
    fn poll_dispatch<F: Future>(
        &mut self,
        cx: &mut TaskContext<'_>,
        shared: &ConnShared,
        mut callback: Pin<&mut F>,
    ) -> Poll<F::Output> {
        loop {
            if let Poll::Ready(output) =
                reply::as_handler_of(shared.fd, || callback.as_mut().poll(cx))
            {
                return Poll::Ready(output);
            }
            if !self.write_while_dispatching(cx, shared) {
                return Poll::Pending;
            }
        }
    }

    /// Writes queued messages (not a close request: the handler is still running) while a
    /// callback waits; whether room was made in the outbox, so the callback should be polled
    /// again.
    fn write_while_dispatching(&mut self, cx: &mut TaskContext<'_>, shared: &ConnShared) -> bool {
        if self.write_error.is_some() {
            return false;
        }
        let before = shared.outbox.queued_bytes();
        loop {
            while self.encoder.queued() < self.write_buffer_size
                && self.pending.is_empty()
                && shared.outbox.take(&mut self.pending)
            {
                while let Some(item) = self.pending.pop_front() {
                    if let Outbound::Close(frame) = item {
                        // Sent once the callback returns, after everything queued before it.
                        self.pending.push_front(Outbound::Close(frame));
                        break;
                    }
                    let _not_a_close = self.encode(item);
                }
            }
            if self.encoder.is_empty() {
                break;
            }
            match self.encoder.poll_write(cx, &mut self.io) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(error)) => {
                    self.write_error = Some(error);
                    // Its pushes now fail at once, so the callback can finish.
                    shared.outbox.shut();
                    return true;
                }
                Poll::Pending => break,
            }
        }
        shared.outbox.queued_bytes() < before
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
            Outbound::Frame { frame, payload_len } => {
                self.traffic.messages_out += 1;
                self.traffic.bytes_out += payload_len as u64;
                self.encoder.raw(frame);
                None
            }
            Outbound::Close(frame) => Some(frame),
        }
    }

    /// Moves every queued message into the encoder, whatever its size; a queued close request
    /// is dropped (the caller is closing anyway).
    pub(super) fn encode_queued(&mut self, shared: &ConnShared) {
        shared.outbox.take(&mut self.pending);
        while let Some(item) = self.pending.pop_front() {
            let _closing_anyway = self.encode(item);
        }
    }
}
