//! Routes per server, registered in code ("config mode", Hyperf's `Router::addServer`) or by the
//! controller macros, and matched with `matchit`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::Method;
use tracing::Instrument;

use crate::connection::{self, Connection};
use crate::handshake::{Handshake, Rejection};
use crate::http::{BoxedHandler, HttpHandler};
use crate::server::ws::{OpenSlot, ServerShared};
use crate::{BootError, Request, WebSocketHandler};

/// A WebSocket controller with its type erased, ready to serve connections.
#[derive(Clone)]
pub struct WsRoute {
    pub(crate) endpoint: Arc<dyn WsEndpoint>,
    pub(crate) protocols: Vec<String>,
}

impl std::fmt::Debug for WsRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRoute")
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

impl WsRoute {
    /// Wraps a controller.
    pub fn new<H: WebSocketHandler>(handler: Arc<H>) -> Self {
        Self {
            endpoint: Arc::new(Endpoint(handler)),
            protocols: Vec::new(),
        }
    }

    /// The subprotocols this route speaks; the handshake picks the first one the client offers.
    pub fn protocols<I: IntoIterator<Item = S>, S: Into<String>>(mut self, protocols: I) -> Self {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }
}

pub(crate) trait WsEndpoint: Send + Sync + 'static {
    fn handshake<'a>(
        &'a self,
        req: &'a Request,
        handshake: &'a mut Handshake,
    ) -> BoxFuture<'a, Result<(), Rejection>>;
    /// Spawns the task that runs an accepted connection until it closes.
    fn spawn(
        &self,
        socket: crate::connection::Upgraded,
        conn: Connection,
        request: Box<Request>,
        server: Arc<ServerShared>,
        slot: OpenSlot,
    );
}

struct Endpoint<H>(Arc<H>);

impl<H: WebSocketHandler> WsEndpoint for Endpoint<H> {
    fn handshake<'a>(
        &'a self,
        req: &'a Request,
        handshake: &'a mut Handshake,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(self.0.on_handshake(req, handshake))
    }

    fn spawn(
        &self,
        socket: crate::connection::Upgraded,
        conn: Connection,
        request: Box<Request>,
        server: Arc<ServerShared>,
        slot: OpenSlot,
    ) {
        // Every event of the connection — the framework's and its handlers' — carries its fd.
        let span = tracing::info_span!(
            "connection",
            fd = %conn.fd(),
            server = %conn.server(),
            route = %conn.route()
        );
        // Spawned with its concrete type: the task holds the connection's state inline, one
        // allocation per connection.
        tokio::spawn(
            connection::serve(self.0.clone(), socket, conn, request, server, slot).instrument(span),
        );
    }
}

/// Where a route came from, for `routes` listings and duplicate errors.
#[derive(Debug, Clone)]
pub(crate) struct RouteOrigin {
    pub(crate) controller: String,
    /// `macro`, `config` or `builtin`.
    pub(crate) mode: &'static str,
}

pub(crate) enum RouteTarget {
    Ws(WsRoute),
    Http {
        methods: Vec<Method>,
        handler: BoxedHandler,
    },
}

/// One route of one server.
pub(crate) struct RouteDef {
    pub(crate) server: String,
    pub(crate) path: String,
    pub(crate) target: RouteTarget,
    pub(crate) origin: RouteOrigin,
}

/// A line of the route table, as `routes` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    /// Server name.
    pub server: String,
    /// `WS` or the HTTP methods, e.g. `GET|POST|HEAD`.
    pub methods: String,
    /// Path pattern.
    pub path: String,
    /// Controller or handler.
    pub controller: String,
    /// `macro` or `config`.
    pub mode: String,
}

impl RouteDef {
    pub(crate) fn info(&self) -> RouteInfo {
        let methods = match &self.target {
            RouteTarget::Ws(_) => "WS".to_string(),
            RouteTarget::Http { methods, .. } => methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join("|"),
        };
        RouteInfo {
            server: self.server.clone(),
            methods,
            path: self.path.clone(),
            controller: self.origin.controller.clone(),
            mode: self.origin.mode.to_string(),
        }
    }
}

/// The routes of one server, in code: `app.router("ws").ws("/", Controller::default())`.
///
/// ```
/// use ws_core::prelude::*;
/// use ws_core::http::HttpRequest;
///
/// #[derive(Default)]
/// struct Chat;
/// impl WebSocketHandler for Chat {}
///
/// let mut app = App::new();
/// app.router("ws").ws("/chat", Chat);
/// app.router("http")
///     .get("/ping", |_req: HttpRequest| async { "pong" })
///     .post("/echo", |req: HttpRequest| async move { req.body().clone() });
/// ```
pub struct ServerRoutes<'a> {
    pub(crate) routes: &'a mut Vec<RouteDef>,
    pub(crate) server: String,
}

impl ServerRoutes<'_> {
    /// A WebSocket route served by `controller` (Hyperf's `Router::get` inside `addServer`).
    pub fn ws<H: WebSocketHandler>(&mut self, path: &str, controller: H) -> &mut Self {
        self.ws_route(
            path,
            WsRoute::new(Arc::new(controller)),
            std::any::type_name::<H>(),
        )
    }

    /// A WebSocket route with options (subprotocols).
    pub fn ws_route(&mut self, path: &str, route: WsRoute, controller: &str) -> &mut Self {
        self.routes.push(RouteDef {
            server: self.server.clone(),
            path: path.to_string(),
            target: RouteTarget::Ws(route),
            origin: RouteOrigin {
                controller: crate::di::short(controller).to_string(),
                mode: "config",
            },
        });
        self
    }

    /// An HTTP route answering `methods`.
    pub fn route(
        &mut self,
        methods: &[Method],
        path: &str,
        handler: impl HttpHandler,
    ) -> &mut Self {
        self.routes.push(RouteDef {
            server: self.server.clone(),
            path: path.to_string(),
            target: RouteTarget::Http {
                methods: methods.to_vec(),
                handler: handler.into_boxed(),
            },
            origin: RouteOrigin {
                controller: "closure".to_string(),
                mode: "config",
            },
        });
        self
    }

    /// An HTTP GET route (HEAD is answered too).
    pub fn get(&mut self, path: &str, handler: impl HttpHandler) -> &mut Self {
        self.route(&[Method::GET, Method::HEAD], path, handler)
    }

    /// An HTTP POST route.
    pub fn post(&mut self, path: &str, handler: impl HttpHandler) -> &mut Self {
        self.route(&[Method::POST], path, handler)
    }

    /// An HTTP PUT route.
    pub fn put(&mut self, path: &str, handler: impl HttpHandler) -> &mut Self {
        self.route(&[Method::PUT], path, handler)
    }

    /// An HTTP DELETE route.
    pub fn delete(&mut self, path: &str, handler: impl HttpHandler) -> &mut Self {
        self.route(&[Method::DELETE], path, handler)
    }

    /// An HTTP PATCH route.
    pub fn patch(&mut self, path: &str, handler: impl HttpHandler) -> &mut Self {
        self.route(&[Method::PATCH], path, handler)
    }
}

/// Matched WebSocket routes of one server.
pub(crate) type WsTable = matchit::Router<(String, WsRoute)>;

/// Matched HTTP routes of one server: per path, per method.
pub(crate) type HttpTable = matchit::Router<HashMap<Method, BoxedHandler>>;

pub(crate) fn duplicate(def: &RouteDef, method: Option<&Method>) -> BootError {
    let what = method.map(|m| format!("{m} ")).unwrap_or_default();
    BootError::Route(format!(
        "two controllers on server `{}` route {what}`{}` (the second is `{}`)",
        def.server, def.path, def.origin.controller
    ))
}
