//! The Prometheus text format of `/metrics`: every counter and gauge of the node, written once
//! per scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::metrics::Metrics;
use crate::registry::Registry;

/// Renders the node's metrics; `ws_routes` are every WebSocket route, so a route nobody is on
/// yet shows a 0.
pub(super) fn render(
    m: &Metrics,
    registry: &Registry,
    ws_routes: &[(Arc<str>, Arc<str>)],
) -> String {
    let mut out = Exposition(String::with_capacity(2048));
    let counters = [
        (
            "ws_messages_received_total",
            "WebSocket messages received.",
            &m.messages_in,
        ),
        (
            "ws_received_bytes_total",
            "WebSocket payload bytes received.",
            &m.bytes_in,
        ),
        (
            "ws_messages_sent_total",
            "WebSocket messages sent.",
            &m.messages_out,
        ),
        (
            "ws_sent_bytes_total",
            "WebSocket payload bytes sent.",
            &m.bytes_out,
        ),
        (
            "ws_handshakes_accepted_total",
            "WebSocket handshakes accepted.",
            &m.handshakes_accepted,
        ),
        (
            "ws_handler_errors_total",
            "Handler calls that returned an error.",
            &m.handler_errors,
        ),
        (
            "ws_handler_panics_total",
            "Handler calls that panicked.",
            &m.handler_panics,
        ),
        (
            "ws_compressions_total",
            "Messages compressed with permessage-deflate (a room push compressed once for many members counts once).",
            &m.compressions,
        ),
        (
            "ws_backplane_errors_total",
            "Cluster operations that failed.",
            &m.backplane_errors,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, "", value.load(Ordering::Relaxed));
    }

    let name = "ws_handshakes_rejected_total";
    out.family(name, "counter", "WebSocket handshakes rejected, by reason.");
    for (reason, count) in m.handshakes_rejected.lock().iter() {
        out.sample(name, &format!("reason=\"{reason}\""), count);
    }

    let name = "ws_closes_total";
    out.family(
        name,
        "counter",
        "Closed WebSocket connections, by close code.",
    );
    for (code, count) in m.close_codes.lock().iter() {
        out.sample(name, &format!("code=\"{code}\""), count);
    }

    let name = "ws_open_connections";
    out.family(
        name,
        "gauge",
        "Open WebSocket connections, by server and route.",
    );
    let mut open: BTreeMap<(Arc<str>, Arc<str>), usize> =
        ws_routes.iter().map(|route| (route.clone(), 0)).collect();
    open.extend(registry.count_by_route());
    for ((server, route), count) in &open {
        let (server, route) = (escape(server), escape(route));
        out.sample(
            name,
            &format!("server=\"{server}\",route=\"{route}\""),
            count,
        );
    }

    let name = "ws_push_latency_seconds";
    out.family(
        name,
        "histogram",
        "Duration of Sender push and disconnect calls, by operation and by where the fd lives.",
    );
    for (op, target, histogram) in m.sender_latency.labelled() {
        histogram.render(
            &mut out.0,
            name,
            &format!("op=\"{op}\",target=\"{target}\""),
        );
    }

    let name = "ws_rooms";
    out.family(name, "gauge", "Rooms with at least one local member.");
    out.sample(name, "", registry.room_count());
    out.0
}

/// The Prometheus text format being written: a `HELP` and `TYPE` line per family, then its
/// samples. Writing to a `String` cannot fail, so the results are dropped.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; `labels` is the text between the braces, empty for none.
    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}
