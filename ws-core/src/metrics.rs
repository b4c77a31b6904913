//! Counters the servers keep; exported at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Messages compressed (permessage-deflate); a room push compressed once for many
    /// members counts once.
    pub(crate) compressions: AtomicU64,
    /// Servers bound and not shutting down.
    pub(crate) ready: std::sync::atomic::AtomicBool,
    /// WebSocket connection tasks alive, from upgrade until `on_close` has returned.
    pub(crate) live_connections: std::sync::atomic::AtomicUsize,
    pub(crate) handshakes_rejected: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) close_codes: Mutex<BTreeMap<u16, u64>>,
    /// How long `Sender::push` and `Sender::disconnect` calls take, by operation and by where
    /// the fd lives: a remote fd costs a broker round trip.
    pub(crate) sender_latency: SenderLatency,
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
    pub(crate) compressions: u64,
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
        if self.compressions > 0 {
            metrics
                .compressions
                .fetch_add(self.compressions, Ordering::Relaxed);
        }
        *self = Traffic::default();
    }
}

/// What a timed [`Sender`](crate::Sender) call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SenderOp {
    Push,
    Disconnect,
}

/// Latency histograms of `Sender` calls, one per operation and locality.
#[derive(Debug, Default)]
pub(crate) struct SenderLatency {
    push_local: Histogram,
    push_remote: Histogram,
    disconnect_local: Histogram,
    disconnect_remote: Histogram,
}

impl SenderLatency {
    fn histogram(&self, op: SenderOp, local: bool) -> &Histogram {
        match (op, local) {
            (SenderOp::Push, true) => &self.push_local,
            (SenderOp::Push, false) => &self.push_remote,
            (SenderOp::Disconnect, true) => &self.disconnect_local,
            (SenderOp::Disconnect, false) => &self.disconnect_remote,
        }
    }

    /// Starts timing one call; it is recorded when the returned guard drops, on every path out
    /// of the call (including an error or a cancelled future).
    pub(crate) fn start(&self, op: SenderOp, local: bool) -> LatencyTimer<'_> {
        LatencyTimer {
            histogram: self.histogram(op, local),
            started: Instant::now(),
        }
    }

    /// Every histogram with its `op` and `target` label values.
    pub(crate) fn labelled(&self) -> [(&'static str, &'static str, &Histogram); 4] {
        [
            ("push", "local", &self.push_local),
            ("push", "remote", &self.push_remote),
            ("disconnect", "local", &self.disconnect_local),
            ("disconnect", "remote", &self.disconnect_remote),
        ]
    }
}

/// Records the time since it was created into a histogram when dropped.
#[derive(Debug)]
pub(crate) struct LatencyTimer<'a> {
    histogram: &'a Histogram,
    started: Instant,
}

impl Drop for LatencyTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed());
    }
}

/// Upper bounds of the latency buckets, in seconds: from a local queue hand-off (microseconds)
/// up to a broker round trip that nears the default 2 s `request_timeout_ms`.
pub(crate) const LATENCY_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 1.0, 2.5,
];

/// A Prometheus histogram over [`LATENCY_BUCKETS`], lock-free: one counter per bucket (not
/// cumulative; rendering adds them up), a count and a sum in nanoseconds.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| seconds <= le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (already
    /// formatted, `op="push",target="local"`).
    pub(crate) fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (le, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        // Read after the buckets, so `+Inf` is never below the last finite bucket.
        let count = self.count.load(Ordering::Relaxed).max(cumulative);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets_sum_and_count() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(5));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(10));
        let mut out = String::new();
        histogram.render(&mut out, "x", "op=\"push\"");
        let line = |le: &str| {
            out.lines()
                .find(|l| l.starts_with(&format!("x_bucket{{op=\"push\",le=\"{le}\"}}")))
                .unwrap_or_else(|| panic!("no bucket {le} in\n{out}"))
                .rsplit(' ')
                .next()
                .map(str::to_string)
        };
        assert_eq!(line("0.00001").as_deref(), Some("1"));
        assert_eq!(line("0.0025").as_deref(), Some("1"));
        assert_eq!(line("0.005").as_deref(), Some("2"));
        assert_eq!(line("2.5").as_deref(), Some("2"));
        assert_eq!(line("+Inf").as_deref(), Some("3"));
        assert!(out.contains("x_count{op=\"push\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{op=\"push\"} 10.003005\n"), "{out}");
    }
}
