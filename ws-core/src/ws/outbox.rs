//! The bounded outbound queue of one connection.
//!
//! Pushes from any task land here; the connection's own task drains the whole queue at once into
//! the socket and flushes once per burst. Measured on the reference machine, flushing once per
//! burst instead of once per message is the difference between ~1.7 M and ~0.2 M small
//! messages/s. The queue is bounded in bytes, so a client that stops reading costs at most
//! `outbound_queue_bytes` of server memory.
//!
//! A room push skips the queue when it can: while the connection's task is parked — nothing
//! queued, nothing unsent, waiting — the pusher writes the whole frame to the socket itself,
//! under the queue's lock. Waking ten thousand tasks to each write one frame cost more than the
//! frames (scheduling, polling, taking the queue: ~10% of a broadcast's server CPU, perf).
//! Pushes to one fd keep going through the queue, where a burst of them leaves in one write.
//!
//! A room push that finds the connection parked but already written to in the same burst of
//! room pushes (the pusher has not yielded since; see `registry/burst.rs`) queues its frame
//! without waking the task, and the burst's end writes everything so queued with one `writev`.
//! Measured with a Socket.IO room of 1,000 members under a sender that does not wait for each
//! message (`ws-cli perf --only sio-room`): one write per member per message cost ~3× the CPU
//! per delivery of a server that queues and writes batches.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Waker};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use tokio::net::TcpStream;

use crate::config::BackpressurePolicy;
use crate::ws::message::{CloseFrame, Message, close_frame};

mod deferred;

/// One item for the connection task.
#[derive(Debug)]
pub(crate) enum Outbound {
    Message(Message),
    /// The unsent end of a frame a room push began writing: it goes out before anything else.
    Rest(Bytes),
    /// A whole frame encoded once for many connections: a room push compressed for every member
    /// that agreed on the same permessage-deflate parameters.
    Frame {
        frame: Bytes,
        /// The length of the message it carries, uncompressed.
        payload_len: usize,
    },
    /// Start the closing handshake with this frame.
    Close(CloseFrame),
}

/// How a room push reached a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reached {
    /// Written to the socket (all of it, or the start with the rest queued).
    Written,
    /// Queued for the connection's task, or behind frames waiting for the burst's end.
    Queued,
    /// The first frame queued for the burst's end: the caller hands the connection to it.
    Deferred,
}

/// What became of a push from the connection's own handler.
#[derive(Debug)]
pub(crate) enum OwnPush {
    Queued,
    Closed,
    /// The queue is full: the message comes back, to be pushed again once there is room.
    Full(Message),
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Closed,
    Full,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Outbound>,
    bytes: usize,
    /// No more messages are accepted: a close was queued or the connection ended.
    closed: bool,
    /// The connection's task is waiting with nothing to write: whoever holds this lock may
    /// write whole frames to `socket`. Only the task sets it; queueing anything clears it.
    parked: bool,
    /// The plain socket, for room pushes while the task is parked; `None` for TLS and once the
    /// connection is gone (so it closes when the task drops its own handle).
    socket: Option<Arc<TcpStream>>,
    /// The task, while it waits for something to send; `None` while it runs. A push made while
    /// the task runs (a handler answering its own client) needs no wake-up: the task looks at
    /// the queue before it waits. Waking it anyway cost one empty poll per burst.
    waiting: Option<Waker>,
    /// Whether pushes wake the waiting task. Not while it waits for the socket to drain what it
    /// already holds: it takes more once that is written.
    wants_pushes: bool,
    /// A [`signal`](Outbox::signal) came while the task was running: it looks again before
    /// waiting.
    signalled: bool,
    /// Room pushes queued frames for the end of the current burst, which writes them (see
    /// [`Outbox::write_deferred`]); the task was left parked.
    deferred: bool,
    /// The burst in which a room push last wrote to the socket itself.
    written_in_burst: u64,
}

impl State {
    /// After a push: the waiting task's waker, to be woken once the lock is released.
    fn take_waiter(&mut self) -> Option<Waker> {
        self.parked = false;
        if self.wants_pushes {
            self.waiting.take()
        } else {
            None
        }
    }
}

/// Wakes `waker`, after releasing `state`: the woken task's first move is to take that lock.
fn wake_after(state: MutexGuard<'_, State>, waker: Option<Waker>) {
    drop(state);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Queues `item` (`size` bytes) once the caller has checked there is room, and wakes the task.
fn append(mut state: MutexGuard<'_, State>, item: Outbound, size: usize) {
    state.bytes += size;
    state.queue.push_back(item);
    let waker = state.take_waiter();
    wake_after(state, waker);
}

/// What the task does after [`Outbox::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Waiting: a signal, or a push, wakes it.
    Waiting,
    /// Something came in since the task last looked: it goes around again.
    Again,
}

#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    limit: usize,
    policy: BackpressurePolicy,
}

impl Outbox {
    pub(crate) fn new(limit: usize, policy: BackpressurePolicy) -> Self {
        Self {
            state: Mutex::new(State::default()),
            limit,
            policy,
        }
    }

    pub(crate) fn push(&self, message: Message) -> Result<(), Refusal> {
        let size = message.len();
        self.enqueue(self.state.lock(), Outbound::Message(message), size)
    }

    /// A push from the connection's own handler: a full queue gives the message back instead of
    /// applying the backpressure policy (see `ws/reply.rs`).
    pub(crate) fn push_own(&self, message: Message) -> OwnPush {
        let size = message.len();
        let state = self.state.lock();
        if state.closed {
            return OwnPush::Closed;
        }
        if self.overflows(&state, size) {
            return OwnPush::Full(message);
        }
        append(state, Outbound::Message(message), size);
        OwnPush::Queued
    }

    /// Whether `size` more bytes overflow the queue. An empty queue takes any message, so one
    /// message larger than the limit still goes out.
    #[inline]
    fn overflows(&self, state: &State, size: usize) -> bool {
        state.bytes > 0 && state.bytes + size > self.limit
    }

    /// Bytes queued and not yet taken by the task.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Queues `item` (`size` bytes) under the lock the caller already holds, and wakes the task.
    fn enqueue(
        &self,
        mut state: MutexGuard<'_, State>,
        item: Outbound,
        size: usize,
    ) -> Result<(), Refusal> {
        if state.closed {
            return Err(Refusal::Closed);
        }
        if self.overflows(&state, size) {
            return match self.policy {
                BackpressurePolicy::Reject => Err(Refusal::Full),
                BackpressurePolicy::Close => {
                    // The client is being dropped for not reading; what it has not read is
                    // discarded so the close frame is next on the wire.
                    state.queue.clear();
                    state.bytes = 0;
                    state
                        .queue
                        .push_back(Outbound::Close(close_frame(1008, "outbound queue full")));
                    state.closed = true;
                    let waker = state.take_waiter();
                    wake_after(state, waker);
                    Err(Refusal::Full)
                }
            };
        }
        append(state, item, size);
        Ok(())
    }

    /// A room push: `frame` (the message's whole frame, encoded once for every member) written
    /// to the socket at once if the task is parked and the socket takes it, else `message`
    /// queued as [`push`](Self::push) does.
    pub(crate) fn push_frame(
        &self,
        frame: &Bytes,
        message: &Message,
        burst: u64,
    ) -> Result<Reached, Refusal> {
        self.write_or_queue(frame, message.len(), burst, || {
            (Outbound::Message(message.clone()), message.len())
        })
    }

    /// A room push of a frame compressed once for many members (`payload_len` bytes before
    /// compression): written as [`push_frame`](Self::push_frame) writes, else the same frame
    /// queued, so the connection's task does not compress it again.
    pub(crate) fn push_compressed(
        &self,
        frame: &Bytes,
        payload_len: usize,
        burst: u64,
    ) -> Result<Reached, Refusal> {
        self.write_or_queue(frame, payload_len, burst, || {
            let item = Outbound::Frame {
                frame: frame.clone(),
                payload_len,
            };
            (item, frame.len())
        })
    }

    /// `frame` (carrying `payload_len` bytes) written to the socket if the task is parked and
    /// the socket takes it; queued for the end of `burst` if a room push already wrote to this
    /// parked connection in it; else what `queued` makes (an item and its size) queued.
    fn write_or_queue(
        &self,
        frame: &Bytes,
        payload_len: usize,
        burst: u64,
        queued: impl FnOnce() -> (Outbound, usize),
    ) -> Result<Reached, Refusal> {
        let mut state = self.state.lock();
        let parked = state.parked && !state.closed && state.socket.is_some();
        if parked
            && (state.deferred || state.written_in_burst == burst)
            && !self.overflows(&state, frame.len())
        {
            // Messages come faster than one write each: this one waits, unwoken, for the
            // burst's end to write it with whatever else comes meanwhile.
            state.bytes += frame.len();
            state.queue.push_back(Outbound::Frame {
                frame: frame.clone(),
                payload_len,
            });
            let first = !std::mem::replace(&mut state.deferred, true);
            return Ok(if first {
                Reached::Deferred
            } else {
                Reached::Queued
            });
        }
        let attempt = match &state.socket {
            Some(socket) if parked && !state.deferred => Some(socket.try_write(frame)),
            _ => None,
        };
        match attempt {
            Some(Ok(written)) if written == frame.len() => {
                state.written_in_burst = burst;
                return Ok(Reached::Written);
            }
            Some(Ok(written)) => {
                // The socket filled up mid-frame: the task sends the rest, before anything
                // pushed after this.
                let rest = frame.slice(written..);
                state.bytes += rest.len();
                state.queue.push_back(Outbound::Rest(rest));
                let waker = state.take_waiter();
                wake_after(state, waker);
                return Ok(Reached::Written);
            }
            // The socket is full (`WouldBlock`) or failing: queued, the task's own write
            // waits for room or reports the error.
            Some(Err(_)) | None => {}
        }
        let (item, size) = queued();
        self.enqueue(state, item, size).map(|()| Reached::Queued)
    }

    /// Gives room pushes the socket, for the times the task parks.
    pub(crate) fn attach(&self, socket: Arc<TcpStream>) {
        self.state.lock().socket = Some(socket);
    }

    /// The task is about to return `Pending`: it waits, to be woken by a signal and, with
    /// `for_pushes` (it found the queue empty and has room for more), by the next push — unless
    /// one of them came since it looked. With `idle` too (nothing unsent) and a plain socket it
    /// also parks: room pushes may write to the socket until it [`resume`](Self::resume)s.
    pub(crate) fn wait(&self, cx: &mut Context<'_>, for_pushes: bool, idle: bool) -> Wait {
        let mut state = self.state.lock();
        if std::mem::take(&mut state.signalled) || (for_pushes && !state.queue.is_empty()) {
            return Wait::Again;
        }
        match &mut state.waiting {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        state.wants_pushes = for_pushes;
        state.parked = for_pushes && idle && !state.closed && state.socket.is_some();
        Wait::Waiting
    }

    /// The task runs again after [`wait`](Self::wait)ing: pushes wake nobody, and write nothing
    /// to the socket, until it waits again. Returns the unsent end of a frame a room push began,
    /// which must be the task's next bytes on the wire, ahead even of a pong.
    pub(crate) fn resume(&self) -> Option<Bytes> {
        let mut state = self.state.lock();
        state.parked = false;
        state.waiting = None;
        // A push only writes while the queue is empty, so a rest it left is at the front.
        match state
            .queue
            .pop_front_if(|item| matches!(item, Outbound::Rest(_)))
        {
            Some(Outbound::Rest(rest)) => {
                state.bytes -= rest.len();
                Some(rest)
            }
            _ => None,
        }
    }

    /// Whether a close was queued or the connection ended: pushes are refused.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Queues a close frame after what is already queued; later pushes are refused.
    pub(crate) fn close(&self, frame: CloseFrame) -> Result<(), Refusal> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refusal::Closed);
        }
        state.closed = true;
        state.queue.push_back(Outbound::Close(frame));
        let waker = state.take_waiter();
        wake_after(state, waker);
        Ok(())
    }

    /// Marks the connection gone: later pushes fail with `Closed`, queued ones are dropped. A
    /// task still waiting on the queue is woken to find it closed (a bare connection's poll;
    /// a session's own task has stopped waiting by the time it shuts its queue).
    pub(crate) fn shut(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.parked = false;
        state.socket = None;
        let waiting = state.waiting.take();
        state.queue = VecDeque::new();
        state.bytes = 0;
        wake_after(state, waiting);
    }

    /// Gets the connection task to run without queueing anything (a heartbeat signal): woken
    /// if it waits, made to look again before waiting if it runs.
    pub(crate) fn signal(&self) {
        let mut state = self.state.lock();
        state.parked = false;
        let waker = state.waiting.take();
        if waker.is_none() {
            state.signalled = true;
        }
        wake_after(state, waker);
    }

    /// Moves everything queued into `into`; whether there was anything.
    pub(crate) fn take(&self, into: &mut VecDeque<Outbound>) -> bool {
        let mut state = self.state.lock();
        if state.queue.is_empty() {
            return false;
        }
        state.bytes = 0;
        if into.is_empty() {
            std::mem::swap(into, &mut state.queue);
        } else {
            into.append(&mut state.queue);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_full_queue_rejects_then_accepts_after_drain() {
        let outbox = Outbox::new(10, BackpressurePolicy::Reject);
        outbox
            .push(Message::text("123456"))
            .expect("room in the queue");
        assert_eq!(outbox.push(Message::text("123456")), Err(Refusal::Full));
        let mut drained = VecDeque::new();
        assert!(outbox.take(&mut drained));
        assert_eq!(drained.len(), 1);
        outbox
            .push(Message::text("123456"))
            .expect("room in the queue");
    }

    /// A connected pair: the server side shared as a connection's socket, and the client.
    async fn socket_pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("bound");
        let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        let (server, _) = accepted.expect("accepted");
        (Arc::new(server), client.expect("connected"))
    }

    async fn read_exactly(client: &mut TcpStream, len: usize) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut bytes = vec![0; len];
        client.read_exact(&mut bytes).await.expect("the frame");
        bytes
    }

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[test]
    fn only_a_waiting_task_is_woken_and_a_signal_is_never_lost() {
        let outbox = Outbox::new(1 << 20, BackpressurePolicy::Reject);
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut drained = VecDeque::new();

        // Running (never waited): a push, a handler answering its own client, wakes nobody.
        outbox.push(Message::text("a")).expect("queued");
        assert_eq!(count.get(), 0);
        assert!(outbox.take(&mut drained));

        // Waiting for pushes: the first push wakes, once.
        assert_eq!(outbox.wait(&mut cx, true, true), Wait::Waiting);
        outbox.push(Message::text("b")).expect("queued");
        outbox.push(Message::text("c")).expect("queued");
        assert_eq!(count.get(), 1);
        assert_eq!(outbox.resume(), None);
        assert!(outbox.take(&mut drained));

        // Waiting for the socket only: pushes do not wake, a signal does.
        assert_eq!(outbox.wait(&mut cx, false, false), Wait::Waiting);
        outbox.push(Message::text("d")).expect("queued");
        assert_eq!(count.get(), 1);
        outbox.signal();
        assert_eq!(count.get(), 2);
        outbox.resume();

        // A signal while running is kept for the next wait.
        outbox.signal();
        assert_eq!(outbox.wait(&mut cx, false, false), Wait::Again);
        assert_eq!(outbox.wait(&mut cx, false, false), Wait::Waiting);
    }

    #[tokio::test]
    async fn a_room_push_writes_to_a_parked_connection_and_queues_otherwise() {
        let (server, mut client) = socket_pair().await;
        let outbox = Outbox::new(1 << 20, BackpressurePolicy::Reject);
        outbox.attach(server);
        let message = Message::text("hi");
        let frame = crate::ws::codec::whole_frame(&message).expect("a text frame");

        let mut cx = Context::from_waker(Waker::noop());

        // Not parked: the task may be writing, so the push waits in the queue.
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Queued));
        assert_eq!(
            outbox.wait(&mut cx, true, true),
            Wait::Again,
            "something is queued: the task must take it first"
        );
        let mut drained = VecDeque::new();
        assert!(outbox.take(&mut drained));

        // Waiting for the socket to drain what the task holds: pushes queue.
        assert_eq!(outbox.wait(&mut cx, true, false), Wait::Waiting);
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Queued));
        assert_eq!(outbox.resume(), None);
        assert!(outbox.take(&mut drained));

        // Parked: the push writes.
        assert_eq!(outbox.wait(&mut cx, true, true), Wait::Waiting);
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Written));
        assert_eq!(read_exactly(&mut client, 4).await, b"\x81\x02hi");
        assert_eq!(outbox.resume(), None);
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Queued));

        // Gone: nothing is written, the socket is let go.
        outbox.shut();
        assert_eq!(outbox.wait(&mut cx, true, true), Wait::Waiting);
        assert_eq!(outbox.push_frame(&frame, &message, 1), Err(Refusal::Closed));
    }

    #[tokio::test]
    async fn a_frame_the_socket_cannot_take_whole_leaves_its_rest_first_in_line() {
        let (server, mut client) = socket_pair().await;
        let outbox = Outbox::new(64 << 20, BackpressurePolicy::Reject);
        outbox.attach(server.clone());
        // Larger than any loopback send buffer, so the kernel takes only the start.
        let message = Message::binary(vec![7u8; 16 << 20]);
        let frame = crate::ws::codec::whole_frame(&message).expect("a binary frame");
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(outbox.wait(&mut cx, true, true), Wait::Waiting);
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Written));
        outbox.push(Message::text("after")).expect("queued");
        let rest = outbox.resume().expect("the rest of the frame");
        assert!(!rest.is_empty() && rest.len() < frame.len());
        let mut drained = VecDeque::new();
        outbox.take(&mut drained);
        assert!(matches!(&drained[0], Outbound::Message(m) if m.to_text().ok() == Some("after")));

        // The start already on the wire, then the rest as the task writes it: the whole frame.
        let mut transport = crate::ws::transport::Transport::Shared(server);
        let (wire, written) = tokio::join!(read_exactly(&mut client, frame.len()), async {
            use tokio::io::AsyncWriteExt;
            transport.write_all(&rest).await
        });
        written.expect("the rest of the frame");
        assert!(wire == frame, "the frame arrived altered");
    }

    #[tokio::test]
    async fn a_second_room_push_in_one_burst_waits_for_its_end_and_goes_out_in_one_write() {
        let (server, mut client) = socket_pair().await;
        let outbox = Outbox::new(1 << 20, BackpressurePolicy::Reject);
        outbox.attach(server);
        let message = Message::text("hi");
        let frame = crate::ws::codec::whole_frame(&message).expect("a text frame");
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.wait(&mut cx, true, true), Wait::Waiting);

        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Written));
        assert_eq!(
            outbox.push_frame(&frame, &message, 1),
            Ok(Reached::Deferred)
        );
        assert_eq!(outbox.push_frame(&frame, &message, 1), Ok(Reached::Queued));
        // Even in the next burst, nothing overtakes what waits for the last one's end.
        assert_eq!(outbox.push_frame(&frame, &message, 2), Ok(Reached::Queued));
        assert_eq!(count.get(), 0, "the parked task is not woken");
        assert_eq!(outbox.write_deferred(), (3, 6));
        assert_eq!(read_exactly(&mut client, 16).await, b"\x81\x02hi".repeat(4));
        assert_eq!(outbox.queued_bytes(), 0);

        // A later burst writes at once again; the burst's end owes nothing twice.
        assert_eq!(outbox.push_frame(&frame, &message, 3), Ok(Reached::Written));
        assert_eq!(outbox.write_deferred(), (0, 0));
        assert_eq!(read_exactly(&mut client, 4).await, b"\x81\x02hi");

        // A task that ran meanwhile took the frames itself: the burst's end leaves them be.
        assert_eq!(
            outbox.push_frame(&frame, &message, 3),
            Ok(Reached::Deferred)
        );
        assert_eq!(outbox.resume(), None);
        let mut drained = VecDeque::new();
        assert!(outbox.take(&mut drained));
        assert_eq!(outbox.write_deferred(), (0, 0));
        assert_eq!(count.get(), 0);
    }

    #[test]
    fn the_close_policy_discards_and_queues_1008() {
        let outbox = Outbox::new(4, BackpressurePolicy::Close);
        outbox
            .push(Message::text("abcd"))
            .expect("room in the queue");
        assert_eq!(outbox.push(Message::text("e")), Err(Refusal::Full));
        assert_eq!(outbox.push(Message::text("f")), Err(Refusal::Closed));
        let mut drained = VecDeque::new();
        outbox.take(&mut drained);
        assert!(matches!(&drained[0], Outbound::Close(f) if u16::from(f.code) == 1008));
    }
}
