//! Bursts of room pushes: which one is current, and the writes owed at its end.
//!
//! A room push writes a parked member's frame to its socket itself (see `ws/outbox.rs`). When
//! the pusher pushes to the same member again before yielding — a sender whose messages arrive
//! faster than one at a time, read in one batch and emitted back to back — a write per message
//! per member is what costs most: measured with a Socket.IO room of 1,000 members, ~3× the
//! server CPU per delivery of a server that queues per member and writes batches. So a burst
//! lasts until the pusher yields: a second frame for a member in the same burst is queued, and
//! a task spawned by the burst's first push, which runs once the pusher yields, ends the burst
//! and writes each such member's frames with one `writev`. A room pushed to once in a while
//! pays one spawned task per push, and its members one write each, as before.

use std::sync::Arc;

use parking_lot::Mutex;

use super::ConnShared;
use crate::metrics::{Metrics, Traffic};

#[derive(Debug, Default)]
pub(super) struct Bursts {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The current burst; 0 is never current, so a connection no push wrote to is in none.
    current: u64,
    /// Members with frames queued for the current burst's end.
    deferred: Vec<Arc<ConnShared>>,
    /// Whether the current burst's end is on its way (a task, spawned, not yet run).
    ending: bool,
}

impl Bursts {
    /// The burst a room push starting now belongs to.
    pub(super) fn current(&self) -> u64 {
        let mut state = self.state.lock();
        if state.current == 0 {
            state.current = 1;
        }
        state.current
    }

    /// After a room push that wrote to members (`wrote`) or queued frames for the burst's end
    /// (`deferred`, the members whose first such frame it was): the burst ends once the pusher
    /// yields.
    pub(super) fn pushed(
        self: &Arc<Self>,
        wrote: bool,
        mut deferred: Vec<Arc<ConnShared>>,
        metrics: &Arc<Metrics>,
    ) {
        if !wrote && deferred.is_empty() {
            return;
        }
        let mut state = self.state.lock();
        if state.deferred.is_empty() {
            std::mem::swap(&mut state.deferred, &mut deferred);
        } else {
            state.deferred.append(&mut deferred);
        }
        if std::mem::replace(&mut state.ending, true) {
            return;
        }
        drop(state);
        let (bursts, metrics) = (Arc::clone(self), Arc::clone(metrics));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { bursts.end(&metrics) });
            }
            // Not pushed from a runtime's thread: nothing will yield, so the burst ends now.
            Err(_) => bursts.end(&metrics),
        }
    }

    /// Ends the current burst: the next push starts another, and what members were owed is
    /// written.
    fn end(&self, metrics: &Metrics) {
        let deferred = {
            let mut state = self.state.lock();
            state.current += 1;
            state.ending = false;
            std::mem::take(&mut state.deferred)
        };
        let mut traffic = Traffic::default();
        for conn in &deferred {
            let (messages, bytes) = conn.outbox.write_deferred();
            traffic.messages_out += messages;
            traffic.bytes_out += bytes;
        }
        traffic.report(metrics);
    }
}
