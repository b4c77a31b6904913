//! Final report of a bench run, as text or as one JSON object.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in nanoseconds; this is the largest one kept exactly
/// (longer ones saturate), and 3 significant digits keep p99.9 meaningful.
const MAX_TRACKED_NS: u64 = 60_000_000_000;

/// A histogram of nanosecond latencies with the bounds every mode uses, so
/// per-connection histograms can be merged without resizing.
pub(super) fn latency_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts: a failure is a bug in this file.
    Histogram::new_with_bounds(1, MAX_TRACKED_NS, 3).expect("valid histogram bounds")
}

#[derive(Debug, Serialize)]
pub(super) struct LatencySummary {
    pub(super) p50: f64,
    pub(super) p99: f64,
    pub(super) p99_9: f64,
    pub(super) max: f64,
    pub(super) mean: f64,
}

impl LatencySummary {
    pub(super) fn from_ns(hist: &Histogram<u64>) -> Self {
        let us = |ns: u64| round1(ns as f64 / 1000.0);
        Self {
            p50: us(hist.value_at_quantile(0.50)),
            p99: us(hist.value_at_quantile(0.99)),
            p99_9: us(hist.value_at_quantile(0.999)),
            max: us(hist.max()),
            mean: round1(hist.mean() / 1000.0),
        }
    }

    fn write_text(&self, out: &mut String, label: &str) {
        let _ = writeln!(
            out,
            "{label:<14}p50 {} us, p99 {} us, p99.9 {} us, max {} us (mean {} us)",
            self.p50, self.p99, self.p99_9, self.max, self.mean
        );
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub(super) fn per_sec(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        round1(count as f64 / secs)
    } else {
        0.0
    }
}

/// `bytes` per message, to one decimal.
pub(super) fn per_message(bytes: u64, messages: u64) -> f64 {
    if messages > 0 {
        (bytes as f64 / messages as f64 * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// Megabytes (10^6 bytes) per second with two decimals: small payloads give
/// single-digit figures that one decimal would flatten.
pub(super) fn mb_per_sec(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        (bytes as f64 / secs / 1e4).round() / 100.0
    } else {
        0.0
    }
}

#[derive(Debug, Serialize)]
pub(super) struct ThroughputReport {
    pub(super) url: String,
    pub(super) conns: u32,
    pub(super) conns_established: u64,
    pub(super) inflight: u32,
    pub(super) size: u32,
    pub(super) binary: bool,
    pub(super) threads: u32,
    pub(super) warmup_secs: f64,
    pub(super) secs: f64,
    pub(super) messages: u64,
    pub(super) msgs_per_sec: f64,
    pub(super) bytes: u64,
    pub(super) mb_per_sec: f64,
    /// Bytes an echo took on the wire (frame headers included; compressed when compressed).
    pub(super) wire_bytes_per_echo: f64,
    /// Bytes a message sent took on the wire (masked frame, compressed when compressed).
    pub(super) wire_bytes_per_send: f64,
    pub(super) latency_us: LatencySummary,
    pub(super) errors: u64,
    pub(super) mismatches: u64,
    pub(super) connect_errors: u64,
    pub(super) dropped_connections: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct HandshakeReport {
    pub(super) url: String,
    pub(super) conns: u32,
    pub(super) threads: u32,
    pub(super) warmup_secs: f64,
    pub(super) secs: f64,
    pub(super) handshakes: u64,
    pub(super) handshakes_per_sec: f64,
    pub(super) latency_us: LatencySummary,
    pub(super) errors: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct IdleReport {
    pub(super) url: String,
    pub(super) requested: u32,
    pub(super) established: u64,
    pub(super) open_at_end: u64,
    pub(super) connect_secs: f64,
    pub(super) held_secs: f64,
    pub(super) errors: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct FanoutReport {
    pub(super) url: String,
    pub(super) members: u64,
    pub(super) broadcasts: u64,
    /// Time from sending a message into the room until the last member had it.
    pub(super) last_delivery_us: LatencySummary,
    /// The server's CPU time over the timed broadcasts, per member reached, when its pid was
    /// given.
    pub(super) server_cpu_us_per_delivery: Option<f64>,
    /// Bytes a member read on its socket per timed broadcast (frame header included).
    pub(super) wire_bytes_per_delivery: f64,
    pub(super) errors: u64,
}

#[derive(Debug, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub(super) enum Report {
    Throughput(ThroughputReport),
    Handshakes(HandshakeReport),
    Idle(IdleReport),
    Fanout(FanoutReport),
}

impl Report {
    pub(super) fn errors(&self) -> u64 {
        match self {
            Self::Throughput(r) => r.errors,
            Self::Handshakes(r) => r.errors,
            Self::Idle(r) => r.errors,
            Self::Fanout(r) => r.errors,
        }
    }

    pub(super) fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    pub(super) fn to_text(&self) -> String {
        let mut out = String::new();
        match self {
            Self::Throughput(r) => {
                let kind = if r.binary { "binary" } else { "text" };
                let _ = writeln!(
                    out,
                    "{}: {} conns x {} in flight, {} B {kind}, {} s (+{} s warmup), {} thread(s)",
                    r.url, r.conns, r.inflight, r.size, r.secs, r.warmup_secs, r.threads
                );
                let _ = writeln!(out, "{:<14}{}", "messages/s", r.msgs_per_sec);
                let _ = writeln!(out, "{:<14}{}", "MB/s", r.mb_per_sec);
                let _ = writeln!(out, "{:<14}{}", "messages", r.messages);
                let _ = writeln!(
                    out,
                    "{:<14}{} B per message sent, {} B per echo",
                    "on the wire", r.wire_bytes_per_send, r.wire_bytes_per_echo
                );
                r.latency_us.write_text(&mut out, "latency");
                let _ = writeln!(
                    out,
                    "{:<14}{} (mismatched {}, connect failed {}, dropped {})",
                    "errors", r.errors, r.mismatches, r.connect_errors, r.dropped_connections
                );
                let _ = writeln!(
                    out,
                    "{:<14}{}/{}",
                    "connections", r.conns_established, r.conns
                );
            }
            Self::Handshakes(r) => {
                let _ = writeln!(
                    out,
                    "{}: handshakes with {} workers, {} s (+{} s warmup), {} thread(s)",
                    r.url, r.conns, r.secs, r.warmup_secs, r.threads
                );
                let _ = writeln!(out, "{:<14}{}", "handshakes/s", r.handshakes_per_sec);
                let _ = writeln!(out, "{:<14}{}", "handshakes", r.handshakes);
                r.latency_us.write_text(&mut out, "latency");
                let _ = writeln!(out, "{:<14}{}", "errors", r.errors);
            }
            Self::Idle(r) => {
                let _ = writeln!(
                    out,
                    "{}: {} idle connections held {} s",
                    r.url, r.requested, r.held_secs
                );
                let _ = writeln!(
                    out,
                    "{:<14}{}/{} in {} s",
                    "established", r.established, r.requested, r.connect_secs
                );
                let _ = writeln!(out, "{:<14}{}", "open at end", r.open_at_end);
                let _ = writeln!(out, "{:<14}{}", "errors", r.errors);
            }
            Self::Fanout(r) => {
                let _ = writeln!(
                    out,
                    "{}: {} broadcasts to {} members",
                    r.url, r.broadcasts, r.members
                );
                r.last_delivery_us.write_text(&mut out, "last delivery");
                if let Some(cpu) = r.server_cpu_us_per_delivery {
                    let _ = writeln!(out, "{:<14}{cpu:.2} µs per delivery", "server CPU");
                }
                let _ = writeln!(out, "{:<14}{}", "errors", r.errors);
            }
        }
        out
    }
}
