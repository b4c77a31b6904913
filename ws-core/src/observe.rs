//! `/metrics` (Prometheus text format), `/health` and `/ready` on an HTTP server.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderValue, StatusCode, header};

use crate::app::AppShared;
use crate::config::{Config, ServerKind};
use crate::http::{HttpRequest, IntoResponse, Json};
use crate::router::{RouteDef, RouteOrigin, RouteTarget};

pub(crate) fn add_routes(routes: &mut Vec<RouteDef>, config: &Config, shared: &Arc<AppShared>) {
    let server = match &config.metrics.server {
        Some(name) => Some(name.clone()),
        None => config
            .servers
            .iter()
            .find(|s| s.kind == ServerKind::Http)
            .map(|s| s.name.clone()),
    };
    let Some(server) = server else { return };
    // Every WebSocket route, so `ws_open_connections` shows a 0 for a route nobody is on yet
    // instead of a series that appears with the first connection.
    let mut ws_routes: Vec<(Arc<str>, Arc<str>)> = routes
        .iter()
        .filter(|r| matches!(r.target, RouteTarget::Ws(_)))
        .map(|r| (Arc::from(r.server.as_str()), Arc::from(r.path.as_str())))
        .collect();
    ws_routes.sort();
    ws_routes.dedup();
    let get = |path: &str, handler: crate::http::BoxedHandler| RouteDef {
        server: server.clone(),
        path: path.to_string(),
        target: RouteTarget::Http {
            methods: vec![http::Method::GET, http::Method::HEAD],
            handler,
        },
        origin: RouteOrigin {
            controller: "observability".into(),
            mode: "builtin",
        },
    };
    let app = shared.clone();
    routes.push(get(
        "/metrics",
        Arc::new(move |_req: HttpRequest| {
            let body = render(&app, &ws_routes);
            Box::pin(async move {
                let mut response = body.into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            })
        }),
    ));
    routes.push(get(
        "/health",
        Arc::new(|_req: HttpRequest| {
            Box::pin(async { Json(serde_json::json!({"status": "ok"})).into_response() })
        }),
    ));
    let app = shared.clone();
    routes.push(get(
        "/ready",
        Arc::new(move |_req: HttpRequest| {
            let servers = app.metrics.ready.load(Ordering::Relaxed);
            let cluster = app.backplane.is_ready();
            Box::pin(async move {
                let status = if servers && cluster {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (
                    status,
                    Json(serde_json::json!({"servers": servers, "cluster": cluster})),
                )
                    .into_response()
            })
        }),
    ));
}

fn render(app: &AppShared, ws_routes: &[(Arc<str>, Arc<str>)]) -> String {
    let m = &app.metrics;
    let mut out = String::with_capacity(2048);
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "ws_messages_received_total",
        "WebSocket messages received.",
        m.messages_in.load(Ordering::Relaxed),
    );
    counter(
        "ws_received_bytes_total",
        "WebSocket payload bytes received.",
        m.bytes_in.load(Ordering::Relaxed),
    );
    counter(
        "ws_messages_sent_total",
        "WebSocket messages sent.",
        m.messages_out.load(Ordering::Relaxed),
    );
    counter(
        "ws_sent_bytes_total",
        "WebSocket payload bytes sent.",
        m.bytes_out.load(Ordering::Relaxed),
    );
    counter(
        "ws_handshakes_accepted_total",
        "WebSocket handshakes accepted.",
        m.handshakes_accepted.load(Ordering::Relaxed),
    );
    counter(
        "ws_handler_errors_total",
        "Handler calls that returned an error.",
        m.handler_errors.load(Ordering::Relaxed),
    );
    counter(
        "ws_handler_panics_total",
        "Handler calls that panicked.",
        m.handler_panics.load(Ordering::Relaxed),
    );
    counter(
        "ws_backplane_errors_total",
        "Cluster operations that failed.",
        m.backplane_errors.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP ws_handshakes_rejected_total WebSocket handshakes rejected, by reason.\n# TYPE ws_handshakes_rejected_total counter"
    );
    for (reason, count) in m.handshakes_rejected.lock().iter() {
        let _ = writeln!(
            out,
            "ws_handshakes_rejected_total{{reason=\"{reason}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP ws_closes_total Closed WebSocket connections, by close code.\n# TYPE ws_closes_total counter"
    );
    for (code, count) in m.close_codes.lock().iter() {
        let _ = writeln!(out, "ws_closes_total{{code=\"{code}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP ws_open_connections Open WebSocket connections, by server and route.\n# TYPE ws_open_connections gauge"
    );
    let mut open: BTreeMap<(Arc<str>, Arc<str>), usize> =
        ws_routes.iter().map(|route| (route.clone(), 0)).collect();
    open.extend(app.registry.count_by_route());
    for ((server, route), count) in &open {
        let _ = writeln!(
            out,
            "ws_open_connections{{server=\"{}\",route=\"{}\"}} {count}",
            escape(server),
            escape(route)
        );
    }
    let _ = writeln!(
        out,
        "# HELP ws_push_latency_seconds Duration of Sender push and disconnect calls, by operation and by where the fd lives.\n# TYPE ws_push_latency_seconds histogram"
    );
    for (op, target, histogram) in m.sender_latency.labelled() {
        histogram.render(
            &mut out,
            "ws_push_latency_seconds",
            &format!("op=\"{op}\",target=\"{target}\""),
        );
    }
    let _ = writeln!(
        out,
        "# HELP ws_rooms Rooms with at least one local member.\n# TYPE ws_rooms gauge\nws_rooms {}",
        app.registry.room_count()
    );
    out
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
