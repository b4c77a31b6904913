//! Each server's route tables: checked against the config once at boot, then matched per
//! request with `matchit`.

use std::collections::HashMap;

use http::Method;

use super::{RouteDef, RouteTarget};
use crate::config::{Config, ServerKind};
use crate::http::BoxedHandler;
use crate::http::layer::ControllerLayer;
use crate::ws::endpoint::WsRoute;
use crate::{BootError, RouteError};

/// The WebSocket routes of one server.
#[derive(Default)]
pub(crate) struct WsTable(matchit::Router<(String, WsRoute)>);

/// A WebSocket route matched by an upgrade request's path.
pub(crate) struct WsMatch<'t> {
    /// The route's pattern, e.g. `/room/{name}`.
    pub(crate) pattern: &'t str,
    pub(crate) route: &'t WsRoute,
    /// The path parameters, in the pattern's order.
    pub(crate) params: Vec<(String, String)>,
}

impl WsTable {
    /// The route serving `path`, if any.
    pub(crate) fn find(&self, path: &str) -> Option<WsMatch<'_>> {
        let matched = self.0.at(path).ok()?;
        let (pattern, route) = matched.value;
        Some(WsMatch {
            pattern,
            route,
            params: owned(&matched.params),
        })
    }
}

/// The HTTP routes of one server: per path, per method.
#[derive(Default)]
pub(crate) struct HttpTable(matchit::Router<PathRoutes>);

/// The handlers of one path.
#[derive(Default)]
pub(crate) struct PathRoutes {
    by_method: HashMap<Method, BoxedHandler>,
    /// For a path of a layered controller: the 405 behind its layer, so the layer sees every
    /// method (a CORS layer answers the preflight `OPTIONS`).
    other: Option<BoxedHandler>,
}

/// What an HTTP request's method and path find.
pub(crate) enum HttpMatch<'t> {
    Found {
        handler: &'t BoxedHandler,
        params: Vec<(String, String)>,
    },
    /// No route has this path.
    NotFound,
    /// The path exists, not with this method; the methods it has, sorted.
    MethodNotAllowed(Vec<&'t str>),
}

impl HttpTable {
    /// The handler for `method` on `path`; a HEAD request falls back on the GET handler.
    pub(crate) fn find(&self, method: &Method, path: &str) -> HttpMatch<'_> {
        let Ok(matched) = self.0.at(path) else {
            return HttpMatch::NotFound;
        };
        // A path has a handful of methods: comparing them costs less than hashing one.
        let find = |wanted: &Method| {
            matched
                .value
                .by_method
                .iter()
                .find_map(|(method, handler)| (method == wanted).then_some(handler))
        };
        let handler =
            find(method).or_else(|| (method == Method::HEAD).then(|| find(&Method::GET))?);
        match handler.or(matched.value.other.as_ref()) {
            Some(handler) => HttpMatch::Found {
                handler,
                params: owned(&matched.params),
            },
            None => {
                let mut allowed: Vec<&str> =
                    matched.value.by_method.keys().map(Method::as_str).collect();
                allowed.sort_unstable();
                HttpMatch::MethodNotAllowed(allowed)
            }
        }
    }
}

fn owned(params: &matchit::Params<'_, '_>) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every server's tables, by server name.
#[derive(Default)]
pub(crate) struct Tables(HashMap<String, (WsTable, HttpTable)>);

impl Tables {
    /// Takes the tables of server `name` (empty when it has no routes).
    pub(crate) fn take(&mut self, name: &str) -> (WsTable, HttpTable) {
        self.0.remove(name).unwrap_or_default()
    }
}

impl Tables {
    /// Checks every route against the config (its server exists and is of the route's kind, no
    /// two controllers on one route) and builds each server's tables.
    pub(crate) fn build(config: &Config, routes: Vec<RouteDef>) -> Result<Self, BootError> {
        let mut tables: HashMap<String, (WsTable, HttpTable)> = HashMap::new();
        let mut http_routes: HashMap<(String, String), PathRoutes> = HashMap::new();
        let mut layered: HashMap<(String, String), ControllerLayer> = HashMap::new();
        let source = config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the config".into());
        for def in routes {
            let Some(server) = config.server(&def.server) else {
                return Err(RouteError::UnknownServer {
                    controller: def.origin.controller,
                    path: def.path,
                    server: def.server,
                    config: source,
                }
                .into());
            };
            match def.target {
                RouteTarget::Ws(ref route) => {
                    if server.kind != ServerKind::Websocket {
                        return Err(RouteError::WebSocketOnHttp {
                            controller: def.origin.controller,
                            server: def.server,
                        }
                        .into());
                    }
                    let table = &mut tables.entry(def.server.clone()).or_default().0;
                    if table.0.at(&def.path).is_ok_and(|m| m.value.0 == def.path) {
                        return Err(duplicate(&def, None));
                    }
                    table
                        .0
                        .insert(def.path.clone(), (def.path.clone(), route.clone()))
                        .map_err(|e| RouteError::Pattern {
                            server: def.server.clone(),
                            path: def.path.clone(),
                            reason: e.to_string(),
                        })?;
                }
                RouteTarget::Http {
                    ref methods,
                    ref handler,
                    ref layer,
                } => {
                    if server.kind != ServerKind::Http {
                        return Err(RouteError::HttpOnWebSocket {
                            controller: def.origin.controller,
                            server: def.server,
                        }
                        .into());
                    }
                    let key = (def.server.clone(), def.path.clone());
                    let handler = match layer {
                        Some(layer) => {
                            layered.insert(key.clone(), layer.clone());
                            layer.wrap(handler.clone())
                        }
                        None => handler.clone(),
                    };
                    let by_method = &mut http_routes.entry(key).or_default().by_method;
                    for method in methods {
                        if by_method.insert(method.clone(), handler.clone()).is_some() {
                            return Err(duplicate(&def, Some(method)));
                        }
                    }
                }
            }
        }
        for ((server, path), mut handlers) in http_routes {
            if let Some(layer) = layered.get(&(server.clone(), path.clone())) {
                let mut allowed: Vec<String> =
                    handlers.by_method.keys().map(ToString::to_string).collect();
                allowed.sort_unstable();
                handlers.other = Some(layer.method_not_allowed(allowed));
            }
            let table = &mut tables.entry(server.clone()).or_default().1;
            table
                .0
                .insert(path.clone(), handlers)
                .map_err(|e| RouteError::Pattern {
                    server: server.clone(),
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(Self(tables))
    }
}

fn duplicate(def: &RouteDef, method: Option<&Method>) -> BootError {
    RouteError::Duplicate {
        server: def.server.clone(),
        path: def.path.clone(),
        method: method.cloned(),
        controller: def.origin.controller.clone(),
    }
    .into()
}
