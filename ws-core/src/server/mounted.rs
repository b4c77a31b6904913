//! [`WsService`]: one configured WebSocket server's controllers as a tower service, so another
//! HTTP server (axum, a hyper service) accepts the connection and the framework runs it.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use hyper_util::rt::TokioIo;

use super::ws::{self, WsServer};
use crate::http::Response;
use crate::ws::handshake;
use crate::ws::session::Upgraded;
use crate::ws::transport::Transport;

/// The WebSocket controllers of one configured `websocket` server, as a
/// [`tower::Service`](tower::Service) that answers an upgrade request and runs the connection.
///
/// Get it from [`EmbeddedApp::ws_service`](crate::EmbeddedApp::ws_service) and mount it in
/// axum with `Router::route_service("/ws", service)` (or `fallback_service` to let the server's
/// own route table pick the controller by path). Connections get fds, the registry, rooms,
/// `Sender` pushes, heartbeats, limits and graceful shutdown exactly as on the framework's own
/// port; the handshake decides with the same rules (route, Origin allow-list, subprotocol,
/// `on_handshake`) and answers a refusal with its status, headers and body.
///
/// Limits of the mounted path: the request must come over HTTP/1.1 (WebSocket over HTTP/2,
/// RFC 8441, is not supported), `Request::peer_addr` is `None` unless a layer put a
/// `std::net::SocketAddr` into the request's extensions, and the host server must serve
/// connections with upgrades enabled (axum's `serve` does).
///
/// ```no_run
/// # async fn demo() -> Result<(), ws_core::BootError> {
/// let embedded = ws_core::App::new().start_embedded().await?;
/// let ws = embedded.ws_service("ws").expect("a `ws` server in config/server.toml");
/// // axum::Router::new().route_service("/ws", ws)
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WsService {
    server: Arc<WsServer>,
}

impl std::fmt::Debug for WsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsService")
            .field("server", &self.server.name)
            .finish_non_exhaustive()
    }
}

impl WsService {
    pub(crate) fn new(server: Arc<WsServer>) -> Self {
        Self { server }
    }
}

impl<B: Send + 'static> tower::Service<http::Request<B>> for WsService {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let server = self.server.clone();
        // Taken before the request is picked apart: the upgraded connection arrives through it
        // once the `101` below has been written by the host server.
        let on_upgrade = hyper::upgrade::on(&mut request);
        let (parts, _body) = request.into_parts();
        Box::pin(async move {
            let refuse = |rejection: crate::Rejection| {
                server.node.metrics.rejected(rejection.reason_label());
                tracing::debug!(server = %server.name, status = %rejection.status(), "handshake rejected");
                Ok(rejection.to_http())
            };
            let upgrade = match handshake::from_parts(&parts) {
                Ok(upgrade) => upgrade,
                Err(rejection) => return refuse(rejection),
            };
            let admitted = match ws::admit(&server, &upgrade).await {
                Ok(admitted) => admitted,
                Err(rejection) => return refuse(rejection),
            };
            let response = upgrade.accept_http(&admitted.handshake);
            drop(upgrade);
            let timeout = std::time::Duration::from_millis(server.settings.handshake_timeout_ms);
            tokio::spawn(async move {
                match tokio::time::timeout(timeout, on_upgrade).await {
                    Ok(Ok(upgraded)) => {
                        let socket = Upgraded {
                            transport: Transport::Mounted(Box::new(TokioIo::new(upgraded))),
                            already_read: Vec::new(),
                            deflate: None,
                        };
                        // Per-client caps are the framework's port's; a mounted server sits behind the host app's.
                        ws::open(&server, socket, admitted, None);
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(server = %server.name, %error, "mounted upgrade failed");
                    }
                    Err(_) => {
                        tracing::debug!(server = %server.name, "mounted upgrade never completed");
                    }
                }
            });
            Ok(response)
        })
    }
}
