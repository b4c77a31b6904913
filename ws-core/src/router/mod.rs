//! Routes per server, registered in code ("config mode", Hyperf's `Router::addServer`) or by the
//! controller macros; [`table`] checks them against the config and matches requests.

mod table;

pub(crate) use table::{HttpMatch, HttpTable, Tables, WsMatch, WsTable};

use std::sync::Arc;

use http::Method;

use crate::WebSocketHandler;
use crate::http::layer::ControllerLayer;
use crate::http::{BoxedHandler, HttpHandler};
use crate::ws::WsRoute;

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
        /// The controller's `#[controller(layer = ..)]`, applied when the table is built.
        layer: Option<ControllerLayer>,
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
                layer: None,
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
