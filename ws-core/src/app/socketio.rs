//! The `/socket.io/` route of every WebSocket server that enables Socket.IO, with the
//! namespaces the macros registered for it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, ServerKind, SocketIoTransport};
use crate::di::Container;
use crate::router::{RouteDef, RouteInfo, RouteOrigin, RouteTarget};
use crate::socketio::engine::Engine;
use crate::socketio::polling::Polling;
use crate::socketio::recovery::Recovery;
use crate::socketio::{NamespaceEvents, PATH, SocketIoNamespaceRegistration};
use crate::ws::WsRoute;
use crate::{BootError, RouteError};

/// One route per Socket.IO server. A namespace on a server the config does not define, or on an
/// HTTP server, fails boot; one on a WebSocket server with Socket.IO switched off is left out,
/// with a warning, so a deployment can turn Socket.IO off in config alone.
pub(super) fn build_routes(
    config: &Config,
    container: &mut Container,
    recovery: &Arc<Recovery>,
) -> Result<Vec<RouteDef>, BootError> {
    let mut by_server: HashMap<&str, HashMap<String, Arc<dyn NamespaceEvents>>> = HashMap::new();
    for reg in inventory::iter::<SocketIoNamespaceRegistration> {
        let controller = crate::di::short(reg.controller).to_string();
        let server = config.servers.iter().find(|s| s.name == reg.server);
        let refusal = match server {
            None => Some("the config does not define"),
            Some(s) if s.kind != ServerKind::Websocket => Some("is not a websocket server"),
            Some(s) if !s.settings.socketio.enabled => {
                tracing::warn!(
                    namespace = reg.path,
                    server = reg.server,
                    "Socket.IO namespace `{controller}` is off: the server's [servers.settings.socketio] is not enabled"
                );
                continue;
            }
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            return Err(RouteError::SocketIoDisabled {
                controller,
                server: reg.server.into(),
                reason: reason.into(),
            }
            .into());
        }
        let namespaces = by_server.entry(reg.server).or_default();
        if namespaces.contains_key(reg.path) {
            return Err(RouteError::DuplicateNamespace {
                server: reg.server.into(),
                path: reg.path.into(),
                controller,
            }
            .into());
        }
        namespaces.insert(reg.path.to_string(), (reg.build)(container)?);
    }
    let mut routes = Vec::new();
    for server in &config.servers {
        if server.kind != ServerKind::Websocket || !server.settings.socketio.enabled {
            continue;
        }
        let namespaces = by_server.remove(server.name.as_str()).unwrap_or_default();
        let engine = Arc::new(Engine::new(
            namespaces,
            server.settings.socketio.clone(),
            recovery.clone(),
        ));
        let polling = Arc::new(Polling::new(engine.clone()));
        routes.push(RouteDef {
            server: server.name.clone(),
            path: PATH.into(),
            target: RouteTarget::Ws(WsRoute::new(engine).plain(polling)),
            origin: RouteOrigin {
                controller: "socket.io".into(),
                mode: "builtin",
            },
        });
    }
    Ok(routes)
}

/// The Socket.IO namespaces as `routes` lists them, one row each on the server that serves it:
/// `/socket.io/` with the namespace, and the transports as methods (`WS`, and `GET|POST` when
/// polling is on). A namespace its server does not serve is not listed; boot says why.
pub(super) fn route_infos(config: &Config) -> Vec<RouteInfo> {
    inventory::iter::<SocketIoNamespaceRegistration>
        .into_iter()
        .filter_map(|reg| {
            let server = config.servers.iter().find(|s| {
                s.name == reg.server
                    && s.kind == ServerKind::Websocket
                    && s.settings.socketio.enabled
            })?;
            let methods = server
                .settings
                .socketio
                .transports
                .iter()
                .map(|transport| match transport {
                    SocketIoTransport::Websocket => "WS",
                    SocketIoTransport::Polling => "GET|POST",
                })
                .collect::<Vec<_>>()
                .join("|");
            Some(RouteInfo {
                server: reg.server.into(),
                methods,
                path: format!("{PATH} ns={}", reg.path),
                controller: crate::di::short(reg.controller).into(),
                mode: "macro".into(),
            })
        })
        .collect()
}
