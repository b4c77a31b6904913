//! [`PollSession`]: an Engine.IO session opened by long-polling, whose packets wait in one
//! queue for whichever transport carries them — the polls, then the WebSocket it upgrades to.
//!
//! The session's connection is a bare connection (`ws::bare`): its fd, rooms and queue are a
//! connection's like any other, so the namespaces, rooms and cluster emits work unchanged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use base64::Engine as _;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::Connection;
use crate::ws::bare::BareConnection;

/// Random bytes in a sid: 15 bytes are 20 base64 characters, 120 bits nobody can guess. The sid
/// is all a poll has to prove it belongs to its session.
const SID_BYTES: usize = 15;

/// A fresh session id: 20 URL-safe characters from the operating system's random source.
pub(crate) fn new_sid() -> String {
    let mut bytes = [0u8; SID_BYTES];
    if let Err(error) = getrandom::getrandom(&mut bytes) {
        // No OS randomness is a broken host; a sid from the clock and the process's random
        // hasher keys is still unique, and the failure is loud.
        tracing::error!(%error, "no OS randomness for a Socket.IO sid");
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        bytes[..8].copy_from_slice(&hasher.finish().to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Where a session stands between its transports.
#[derive(Debug)]
struct Transports {
    /// A GET is being held for the session.
    polling: bool,
    /// When the last GET ended (or the session opened): a client that stops polling is gone.
    last_poll: Instant,
    /// A WebSocket probed the session (`2probe`): polls are answered at once.
    probing: bool,
    /// The WebSocket carries the session now; polls are refused.
    upgraded: bool,
}

/// One Engine.IO session opened by long-polling.
pub(crate) struct PollSession {
    pub(crate) sid: String,
    pub(crate) bare: BareConnection,
    transports: Mutex<Transports>,
    ended: AtomicBool,
    /// The task moving the queue onto the WebSocket, once upgraded.
    forwarding: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for PollSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollSession")
            .field("fd", &self.bare.connection().fd())
            .finish_non_exhaustive()
    }
}

impl PollSession {
    pub(crate) fn new(sid: String, bare: BareConnection) -> Self {
        Self {
            sid,
            bare,
            transports: Mutex::new(Transports {
                polling: false,
                last_poll: Instant::now(),
                probing: false,
                upgraded: false,
            }),
            ended: AtomicBool::new(false),
            forwarding: Mutex::default(),
        }
    }

    /// The session's connection, as its handlers see it.
    pub(crate) fn connection(&self) -> &Connection {
        self.bare.connection()
    }

    /// Starts a GET; `false` when one is already held (Engine.IO allows one at a time).
    pub(crate) fn begin_poll(&self) -> bool {
        let mut transports = self.transports.lock();
        !std::mem::replace(&mut transports.polling, true)
    }

    pub(crate) fn end_poll(&self) {
        let mut transports = self.transports.lock();
        transports.polling = false;
        transports.last_poll = Instant::now();
    }

    /// How long nobody has polled; zero while a GET is held.
    pub(crate) fn quiet_for(&self) -> std::time::Duration {
        let transports = self.transports.lock();
        if transports.polling {
            std::time::Duration::ZERO
        } else {
            transports.last_poll.elapsed()
        }
    }

    pub(crate) fn is_polling(&self) -> bool {
        self.transports.lock().polling
    }

    pub(crate) fn set_probing(&self, probing: bool) {
        self.transports.lock().probing = probing;
    }

    pub(crate) fn is_probing(&self) -> bool {
        self.transports.lock().probing
    }

    /// The WebSocket takes over; `false` when one already did.
    pub(crate) fn upgrade(&self, forwarding: JoinHandle<()>) -> bool {
        let mut transports = self.transports.lock();
        if transports.upgraded {
            forwarding.abort();
            return false;
        }
        transports.upgraded = true;
        transports.probing = false;
        *self.forwarding.lock() = Some(forwarding);
        true
    }

    pub(crate) fn is_upgraded(&self) -> bool {
        self.transports.lock().upgraded
    }

    /// Marks the session ended; `true` for the one caller that gets to end it. Stops the
    /// forwarding and takes the connection out of the registry at once, so nothing more is
    /// queued for it.
    pub(crate) fn take_end(&self) -> bool {
        if self.ended.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Some(forwarding) = self.forwarding.lock().take() {
            forwarding.abort();
        }
        self.bare.end();
        true
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// The open polling sessions of one server, by sid.
#[derive(Debug, Default)]
pub(crate) struct PollSessions {
    sessions: Mutex<HashMap<String, Arc<PollSession>>>,
}

impl PollSessions {
    pub(crate) fn insert(&self, session: Arc<PollSession>) {
        self.sessions.lock().insert(session.sid.clone(), session);
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<PollSession>> {
        self.sessions.lock().get(sid).cloned()
    }

    pub(crate) fn remove(&self, sid: &str) {
        self.sessions.lock().remove(sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_twenty_url_safe_characters_and_differ() {
        let (a, b) = (new_sid(), new_sid());
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
