//! The listening servers: one accept loop per configured server.

pub(crate) mod http;
pub(crate) mod mounted;
pub(crate) mod ws;

pub use mounted::WsService;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::BootError;
use crate::config::{ServerConfig, ServerKind};
use crate::http::layer::LayerFn;
use crate::node::Node;
use crate::router::{HttpTable, WsTable};

/// Starts server `server` on `listener` with its route tables: its accept loop (and, for a
/// WebSocket server with heartbeats, its sweep) join `tasks` and stop when `stopping` says so.
/// Returns the bound address.
pub(crate) fn spawn(
    server: &ServerConfig,
    listener: TcpListener,
    (ws_table, http_table): (WsTable, HttpTable),
    layer: Option<LayerFn>,
    node: &Arc<Node>,
    tasks: &mut JoinSet<()>,
    stopping: &watch::Receiver<bool>,
) -> Result<SocketAddr, BootError> {
    let addr = listener.local_addr().map_err(|e| BootError::Bind {
        kind: server.kind.label(),
        server: server.name.clone(),
        addr: format!("{}:{}", server.host, server.port),
        reason: e.to_string(),
    })?;
    #[cfg(feature = "tls")]
    let tls = match &server.settings.tls {
        Some(tls) => Some(crate::tls::acceptor(&server.name, tls)?),
        None => None,
    };
    #[cfg(not(feature = "tls"))]
    if server.settings.tls.is_some() {
        return Err(BootError::Tls {
            server: server.name.clone(),
            reason: "built without the `tls` feature".into(),
        });
    }
    match server.kind {
        ServerKind::Websocket => {
            #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
            let mut ws = ws_server(server, ws_table, node, tasks, stopping);
            #[cfg(feature = "tls")]
            {
                ws.tls = tls;
            }
            tasks.spawn(ws::serve(listener, Arc::new(ws), stopping.clone()));
        }
        ServerKind::Http => {
            let http = http::HttpServer {
                node: node.clone(),
                name: Arc::from(server.name.as_str()),
                settings: server.settings.clone(),
                table: http_table,
                layer,
                #[cfg(feature = "tls")]
                tls,
            };
            tasks.spawn(http::serve(listener, Arc::new(http), stopping.clone()));
        }
    }
    Ok(addr)
}

/// A WebSocket server with its route table, and its heartbeat sweep (when it pings) joined to
/// `tasks`. Not bound: the caller binds it or mounts it ([`WsService`]).
pub(crate) fn ws_server(
    server: &ServerConfig,
    table: WsTable,
    node: &Arc<Node>,
    tasks: &mut JoinSet<()>,
    stopping: &watch::Receiver<bool>,
) -> ws::WsServer {
    let ws = ws::WsServer::new(node.clone(), &server.name, server.settings.clone(), table);
    if let Some(interval) = ws.slots.settings.ping_interval {
        tasks.spawn(crate::ws::heartbeat::sweep(
            ws.slots.clone(),
            interval,
            stopping.clone(),
        ));
    }
    ws
}

/// Binds a server's address, naming the server in the error.
pub(crate) fn bind(server: &ServerConfig) -> Result<TcpListener, BootError> {
    let addr_text = format!("{}:{}", server.host, server.port);
    let error = |reason: String| BootError::Bind {
        kind: server.kind.label(),
        server: server.name.clone(),
        addr: addr_text.clone(),
        reason,
    };
    let addr: SocketAddr = addr_text
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .next()
        .ok_or_else(|| error("the host resolves to no address".into()))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .map_err(|e| error(e.to_string()))?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket
        .set_reuse_address(true)
        .map_err(|e| error(e.to_string()))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| error(e.to_string()))?;
    socket
        .bind(&addr.into())
        .map_err(|e| error(e.to_string()))?;
    socket.listen(4096).map_err(|e| error(e.to_string()))?;
    TcpListener::from_std(socket.into()).map_err(|e| error(e.to_string()))
}

/// Waits out an accept error such as EMFILE instead of spinning on it.
pub(crate) async fn accept_backoff(server: &str, error: &std::io::Error) {
    tracing::warn!(server, error = %error, "accept failed; retrying shortly");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}
