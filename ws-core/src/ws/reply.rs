//! The lossless reply path: a push from a connection's own handler to its own connection waits
//! for room in the outbound queue instead of failing.
//!
//! While a session runs its handler (`on_open`, `on_message`) it marks the thread with the
//! connection's fd for the length of each poll of the handler's future. A push made inside such
//! a poll, to that fd, is the handler answering its own client: when the queue is full it
//! waits, and the session — which reads nothing while its handler runs — writes the queue out
//! meanwhile, so a client that sends faster than it reads is slowed by TCP instead of losing
//! replies. Any other push (another connection, an HTTP handler, a spawned task, a room push,
//! another node) is refused by the configured policy at once, so one slow client never stalls
//! its senders.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::registry::ConnShared;
use crate::ws::message::Message;
use crate::ws::outbox::{OwnPush, Refusal};
use crate::{Fd, SendError};

thread_local! {
    /// The fd whose handler this thread is polling right now.
    static DISPATCHING: Cell<Option<Fd>> = const { Cell::new(None) };
}

/// Polls `poll` as the handler of connection `fd`: pushes it makes to `fd` may wait for room.
#[inline]
pub(crate) fn as_handler_of<T>(fd: Fd, poll: impl FnOnce() -> T) -> T {
    /// Restores the mark even when the handler panics inside the poll.
    struct Restore(Option<Fd>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DISPATCHING.set(self.0);
        }
    }
    let _restore = Restore(DISPATCHING.replace(Some(fd)));
    poll()
}

#[inline]
fn is_handler_of(fd: Fd) -> bool {
    DISPATCHING.get() == Some(fd)
}

/// The future of [`Connection::push`](crate::Connection::push). Complete at once unless it is
/// the connection's own handler pushing into a full queue; then it holds the message until the
/// session has written enough for it to fit.
pub(crate) struct Push {
    fd: Fd,
    state: State,
}

/// A push's outcome, kept without drop glue: a future every handler reply creates and drops
/// costs only its discriminant check while it holds no message.
#[derive(Clone, Copy)]
enum Outcome {
    Queued,
    NotConnected,
    Backpressure,
}

enum State {
    Done(Outcome),
    /// Boxed: the waiting case is rare, and a handler future holding a push keeps this inline.
    Waiting(Box<(Arc<ConnShared>, Message)>),
}

impl Push {
    #[inline]
    pub(crate) fn new(conn: &Arc<ConnShared>, message: Message) -> Self {
        let fd = conn.fd;
        // With room in the queue every push is queued alike: only a full queue asks who pushes.
        let state = match conn.outbox.push_own(message) {
            OwnPush::Queued => State::Done(Outcome::Queued),
            OwnPush::Closed => State::Done(Outcome::NotConnected),
            OwnPush::Full(message) if is_handler_of(fd) => {
                State::Waiting(Box::new((conn.clone(), message)))
            }
            // Pushed again through the policy, which looks at the queue afresh.
            OwnPush::Full(message) => State::Done(policy(conn.outbox.push(message))),
        };
        Self { fd, state }
    }
}

/// A push from anywhere but the connection's own handler: the backpressure policy decides.
#[inline]
fn policy(result: Result<(), Refusal>) -> Outcome {
    match result {
        Ok(()) => Outcome::Queued,
        Err(Refusal::Closed) => Outcome::NotConnected,
        Err(Refusal::Full) => Outcome::Backpressure,
    }
}

impl Future for Push {
    type Output = Result<(), SendError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fd = self.fd;
        let outcome = match &mut self.state {
            State::Done(outcome) => return Poll::Ready(outcome.into_result(fd)),
            State::Waiting(waiting) => {
                let (conn, message) = &mut **waiting;
                // An empty payload holds no allocation; it is put back below if still waiting.
                let message = std::mem::replace(message, Message::Binary(Default::default()));
                if !is_handler_of(fd) {
                    // Moved out of its handler (into a spawned task, say): nobody would make
                    // room for it there, so it takes the policy like any other push.
                    policy(conn.outbox.push(message))
                } else {
                    match conn.outbox.push_own(message) {
                        OwnPush::Queued => Outcome::Queued,
                        OwnPush::Closed => Outcome::NotConnected,
                        OwnPush::Full(message) => {
                            waiting.1 = message;
                            // No waker is kept: this future is polled by its session's task,
                            // which polls the handler again as soon as it has written part of
                            // the queue, and is woken by the socket until then.
                            return Poll::Pending;
                        }
                    }
                }
            }
        };
        self.state = State::Done(outcome);
        Poll::Ready(outcome.into_result(fd))
    }
}

impl Outcome {
    #[inline]
    fn into_result(self, fd: Fd) -> Result<(), SendError> {
        match self {
            Outcome::Queued => Ok(()),
            Outcome::NotConnected => Err(SendError::NotConnected(fd)),
            Outcome::Backpressure => Err(SendError::Backpressure(fd)),
        }
    }
}
