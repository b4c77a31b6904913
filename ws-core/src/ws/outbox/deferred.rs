//! The writes owed at the end of a burst of room pushes (`registry/burst.rs`): the frames
//! pushes queued for a parked connection instead of writing one at a time.

use std::io::IoSlice;

use super::{Outbound, Outbox, wake_after};

/// Frames written at a burst's end in one `writev`, at most; more go in a second call.
const DEFERRED_WRITE_SLICES: usize = 64;

impl Outbox {
    /// At a burst's end: writes the frames room pushes queued for it while the task stayed
    /// parked, all in one `writev` where the socket takes them. Returns the messages and payload
    /// bytes written, for the metrics. What the socket does not take, and anything queued for a
    /// task that ran meanwhile, is left to the task (woken if it waits).
    pub(crate) fn write_deferred(&self) -> (u64, u64) {
        let mut state = self.state.lock();
        if !std::mem::take(&mut state.deferred) || !state.parked || state.closed {
            return (0, 0);
        }
        let mut sent = (0, 0);
        'writes: loop {
            let state = &mut *state;
            let Some(socket) = &state.socket else { break };
            let mut slices = [IoSlice::new(&[]); DEFERRED_WRITE_SLICES];
            let mut count = 0;
            // Parked with frames queued: only deferred frames can be there, since any other
            // push un-parks the task.
            for (slot, item) in slices.iter_mut().zip(&state.queue) {
                let Outbound::Frame { frame, .. } = item else {
                    break;
                };
                *slot = IoSlice::new(frame);
                count += 1;
            }
            if count == 0 {
                break;
            }
            let written = match count {
                1 => socket.try_write(&slices[0]),
                _ => socket.try_write_vectored(&slices[..count]),
            };
            let Ok(mut written) = written else { break };
            state.bytes -= written;
            while written > 0 {
                let Some(Outbound::Frame { frame, payload_len }) = state.queue.pop_front() else {
                    break;
                };
                if written < frame.len() {
                    // The socket filled up mid-frame: the rest goes first, sent by the task.
                    state
                        .queue
                        .push_front(Outbound::Rest(frame.slice(written..)));
                    break 'writes;
                }
                written -= frame.len();
                sent.0 += 1;
                sent.1 += payload_len as u64;
            }
            if state.queue.is_empty() || count < DEFERRED_WRITE_SLICES {
                break;
            }
        }
        if !state.queue.is_empty() {
            // A full socket, or an error: the task's own write waits for room or reports it.
            let waker = state.take_waiter();
            wake_after(state, waker);
        }
        sent
    }
}
