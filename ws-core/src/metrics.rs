//! Counters the servers keep; exported at `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Process-wide counters. Connection loops add their per-burst totals here, not per message, so
/// the hot path touches no shared cache line per message.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) handshakes_accepted: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    pub(crate) backplane_errors: AtomicU64,
    /// Servers bound and not shutting down.
    pub(crate) ready: std::sync::atomic::AtomicBool,
    /// WebSocket connection tasks alive, from upgrade until `on_close` has returned.
    pub(crate) live_connections: std::sync::atomic::AtomicUsize,
    pub(crate) handshakes_rejected: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) close_codes: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    pub(crate) fn rejected(&self, reason: &'static str) {
        *self.handshakes_rejected.lock().entry(reason).or_default() += 1;
    }

    pub(crate) fn closed(&self, code: u16) {
        *self.close_codes.lock().entry(code).or_default() += 1;
    }
}

/// Traffic of one connection since its last report.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) messages_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) messages_out: u64,
    pub(crate) bytes_out: u64,
}

impl Traffic {
    pub(crate) fn report(&mut self, metrics: &Metrics) {
        if self.messages_in | self.messages_out == 0 {
            return;
        }
        metrics
            .messages_in
            .fetch_add(self.messages_in, Ordering::Relaxed);
        metrics.bytes_in.fetch_add(self.bytes_in, Ordering::Relaxed);
        metrics
            .messages_out
            .fetch_add(self.messages_out, Ordering::Relaxed);
        metrics
            .bytes_out
            .fetch_add(self.bytes_out, Ordering::Relaxed);
        *self = Traffic::default();
    }
}
