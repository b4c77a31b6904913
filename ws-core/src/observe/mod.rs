//! `/metrics` (Prometheus text format), `/health` and `/ready` on an HTTP server.

mod exposition;

use std::sync::Arc;

use http::{HeaderValue, StatusCode, header};

use crate::config::{Config, ServerKind};
use crate::http::{HttpRequest, IntoResponse, Json};
use crate::node::Node;
use crate::router::{RouteDef, RouteOrigin, RouteTarget};

pub(crate) fn add_routes(routes: &mut Vec<RouteDef>, config: &Config, node: &Arc<Node>) {
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
            layer: None,
        },
        origin: RouteOrigin {
            controller: "observability".into(),
            mode: "builtin",
        },
    };
    let metrics_node = node.clone();
    routes.push(get(
        "/metrics",
        Arc::new(move |_req: HttpRequest| {
            let body =
                exposition::render(&metrics_node.metrics, &metrics_node.registry, &ws_routes);
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
    let node = node.clone();
    routes.push(get(
        "/ready",
        Arc::new(move |_req: HttpRequest| {
            let servers = node.is_ready();
            let cluster = node.backplane.is_ready();
            let reason = node.backplane.not_ready_reason();
            Box::pin(async move {
                let status = if servers && cluster {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let mut body = serde_json::json!({"servers": servers, "cluster": cluster});
                if let Some(reason) = reason {
                    body["cluster_reason"] = serde_json::Value::String(reason);
                }
                (status, Json(body)).into_response()
            })
        }),
    ));
}
