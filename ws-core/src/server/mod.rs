//! The listening servers: one accept loop per configured server.

pub(crate) mod http;
pub(crate) mod ws;

use std::net::{SocketAddr, ToSocketAddrs};

use tokio::net::TcpListener;

use crate::BootError;
use crate::config::ServerConfig;

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
