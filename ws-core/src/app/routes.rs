//! The controllers the macros registered, as routes: listed by `routes` without building them,
//! built once at boot.

use http::Method;

use super::App;
use crate::config::{Config, ServerKind};
use crate::di::Container;
use crate::registration::{HttpRouteRegistration, WsControllerRegistration};
use crate::router::{RouteDef, RouteInfo, RouteOrigin, RouteTarget};
use crate::{BootError, RouteError};

/// One route a controller macro registered through `inventory`.
enum Registered {
    Ws(&'static WsControllerRegistration),
    Http(&'static HttpRouteRegistration),
}

impl Registered {
    fn all() -> impl Iterator<Item = Self> {
        let ws = inventory::iter::<WsControllerRegistration>
            .into_iter()
            .map(Self::Ws);
        let http = inventory::iter::<HttpRouteRegistration>
            .into_iter()
            .map(Self::Http);
        ws.chain(http)
    }

    fn server(&self) -> &'static str {
        match self {
            Self::Ws(reg) => reg.server,
            Self::Http(reg) => reg.server,
        }
    }

    fn path(&self) -> String {
        match self {
            Self::Ws(reg) => reg.path.into(),
            Self::Http(reg) => reg.full_path(),
        }
    }

    fn origin(&self) -> RouteOrigin {
        let controller = match self {
            Self::Ws(reg) => crate::di::short(reg.controller).into(),
            Self::Http(reg) => format!("{}::{}", crate::di::short(reg.controller), reg.handler),
        };
        RouteOrigin {
            controller,
            mode: "macro",
        }
    }

    /// The route as `routes` lists it; nothing is built.
    fn info(&self) -> RouteInfo {
        let origin = self.origin();
        RouteInfo {
            server: self.server().into(),
            methods: match self {
                Self::Ws(_) => "WS".into(),
                Self::Http(reg) => reg.methods.join("|"),
            },
            path: self.path(),
            controller: origin.controller,
            mode: origin.mode.into(),
        }
    }

    /// Builds the controller singleton (through `container`) and its route.
    fn build(&self, container: &mut Container) -> Result<RouteDef, BootError> {
        let target = match self {
            Self::Ws(reg) => {
                let mut route = (reg.build)(container)?;
                if !reg.protocols.is_empty() {
                    route.protocols = reg.protocols.iter().map(|p| p.to_string()).collect();
                }
                RouteTarget::Ws(route)
            }
            Self::Http(reg) => {
                let handler = (reg.build)(container)?;
                let methods = reg
                    .methods
                    .iter()
                    .map(|m| {
                        Method::from_bytes(m.as_bytes())
                            .map_err(|_| RouteError::InvalidMethod(m.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                RouteTarget::Http { methods, handler }
            }
        };
        Ok(RouteDef {
            server: self.server().into(),
            path: self.path(),
            target,
            origin: self.origin(),
        })
    }
}

/// Every macro-registered route, built.
pub(super) fn build_registered(container: &mut Container) -> Result<Vec<RouteDef>, BootError> {
    Registered::all().map(|reg| reg.build(container)).collect()
}

impl App {
    /// Every route, from the macros and from code, in a stable order.
    pub fn route_table(&self) -> Vec<RouteInfo> {
        let mut table: Vec<RouteInfo> = self.routes.iter().map(RouteDef::info).collect();
        table.extend(Registered::all().map(|reg| reg.info()));
        table.sort_by(|a, b| {
            (&a.server, &a.path, &a.methods).cmp(&(&b.server, &b.path, &b.methods))
        });
        table
    }
}

/// The route table as `routes` prints it: aligned columns under a header.
pub(super) fn render_routes(routes: &[RouteInfo]) -> String {
    let headers = ["SERVER", "METHOD", "PATH", "CONTROLLER", "MODE"];
    let rows: Vec<[&str; 5]> = routes
        .iter()
        .map(|r| {
            [
                r.server.as_str(),
                r.methods.as_str(),
                r.path.as_str(),
                r.controller.as_str(),
                r.mode.as_str(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The checks of boot that need no built controller: every route names a server of `config` of
/// its kind. `routes` runs them so it fails where `start` would, instead of listing a route that
/// can never serve.
pub(super) fn check_servers(config: &Config, routes: &[RouteInfo]) -> Result<(), BootError> {
    let source = config
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the config".into());
    for route in routes {
        let Some(server) = config.server(&route.server) else {
            return Err(RouteError::UnknownServer {
                controller: route.controller.clone(),
                path: route.path.clone(),
                server: route.server.clone(),
                config: source,
            }
            .into());
        };
        let is_ws = route.methods == "WS";
        match server.kind {
            ServerKind::Http if is_ws => {
                return Err(RouteError::WebSocketOnHttp {
                    controller: route.controller.clone(),
                    server: route.server.clone(),
                }
                .into());
            }
            ServerKind::Websocket if !is_ws => {
                return Err(RouteError::HttpOnWebSocket {
                    controller: route.controller.clone(),
                    server: route.server.clone(),
                }
                .into());
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(server: &str, methods: &str) -> RouteInfo {
        RouteInfo {
            server: server.into(),
            methods: methods.into(),
            path: "/".into(),
            controller: "Home".into(),
            mode: "macro".into(),
        }
    }

    #[test]
    fn routes_are_checked_against_the_servers_as_at_boot() {
        let config = Config::from_toml_str(
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 1\n[[servers]]\nname = \"http\"\ntype = \"http\"\nport = 2\n",
        )
        .unwrap();
        assert!(check_servers(&config, &[route("ws", "WS"), route("http", "GET")]).is_ok());
        let unknown = check_servers(&config, &[route("nope", "WS")]).unwrap_err();
        assert!(unknown.to_string().contains("server `nope`"), "{unknown}");
        assert!(check_servers(&config, &[route("http", "WS")]).is_err());
        assert!(check_servers(&config, &[route("ws", "GET")]).is_err());
    }
}
