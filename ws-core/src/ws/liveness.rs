//! Whether a connection's client was heard from lately: the state the heartbeat sweep and the
//! connection's own task share, one byte per connection.

use std::sync::atomic::{AtomicU8, Ordering};

const HEARD: u8 = 0;
const QUIET: u8 = 1;
const PING_DUE: u8 = 2;
const PINGED: u8 = 3;
const SILENT: u8 = 4;

/// Where a connection stands between sweeps. Written by its own task on every frame it receives
/// (a plain load when nothing changes, so busy connections do not bounce the cache line) and by
/// the sweep once per interval.
#[derive(Debug, Default)]
pub(crate) struct Liveness(AtomicU8);

/// What the connection task must do, as the sweep decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    Ping,
    Drop,
}

impl Liveness {
    /// The client sent something: it is alive.
    pub(crate) fn heard(&self) {
        if self.0.load(Ordering::Relaxed) != HEARD {
            self.0.store(HEARD, Ordering::Relaxed);
        }
    }

    /// For the connection task: a ping to send or a silent client to drop.
    pub(crate) fn due(&self) -> Due {
        match self.0.load(Ordering::Acquire) {
            PING_DUE => {
                // The client may have been heard meanwhile; then no ping is needed.
                match self
                    .0
                    .compare_exchange(PING_DUE, PINGED, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => Due::Ping,
                    Err(_) => Due::Nothing,
                }
            }
            SILENT => Due::Drop,
            _ => Due::Nothing,
        }
    }

    /// One sweep; whether the connection task must be woken to act on it.
    pub(crate) fn sweep(&self) -> bool {
        let (current, next) = match self.0.load(Ordering::Acquire) {
            HEARD => (HEARD, QUIET),
            QUIET => (QUIET, PING_DUE),
            PINGED => (PINGED, SILENT),
            // A ping not sent yet, or a drop not carried out yet: the task is on it.
            _ => return false,
        };
        // A frame arriving meanwhile wins: the connection is left for the next sweep.
        self.0
            .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            && next != QUIET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_connection_is_pinged_then_dropped() {
        let liveness = Liveness::default();
        assert!(!liveness.sweep(), "heard → quiet needs no wake-up");
        assert_eq!(liveness.due(), Due::Nothing);
        assert!(liveness.sweep(), "quiet → ping due");
        assert_eq!(liveness.due(), Due::Ping);
        assert_eq!(liveness.due(), Due::Nothing, "one ping per sweep");
        assert!(liveness.sweep(), "pinged → silent");
        assert_eq!(liveness.due(), Due::Drop);
    }

    #[test]
    fn a_connection_heard_from_is_left_alone() {
        let liveness = Liveness::default();
        for _ in 0..5 {
            liveness.sweep();
            liveness.heard();
            assert_eq!(liveness.due(), Due::Nothing);
        }
        liveness.sweep();
        liveness.sweep();
        assert_eq!(liveness.due(), Due::Ping);
        liveness.heard();
        liveness.sweep();
        assert_eq!(liveness.due(), Due::Nothing, "the pong came back");
    }
}
