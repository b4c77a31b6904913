//! The WebSocket server: accept, upgrade, route, then hand the socket to its connection task.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::app::AppShared;
use crate::config::ServerSettings;
use crate::connection::{Connection, LoopSettings, Upgraded};
use crate::handshake::{self, HeadError, Rejection};
use crate::outbox::Outbox;
use crate::registry::ConnShared;
use crate::router::WsTable;
use crate::transport::Transport;

/// Everything the connections of one WebSocket server share.
pub(crate) struct ServerShared {
    pub(crate) app: Arc<AppShared>,
    pub(crate) name: Arc<str>,
    pub(crate) settings: ServerSettings,
    pub(crate) loop_settings: LoopSettings,
    pub(crate) table: WsTable,
    pub(crate) open: AtomicUsize,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ServerShared {
    pub(crate) fn new(
        app: Arc<AppShared>,
        name: &str,
        settings: ServerSettings,
        table: WsTable,
    ) -> Self {
        let ping_interval = (settings.ping_interval_ms > 0)
            .then(|| Duration::from_millis(settings.ping_interval_ms));
        Self {
            app,
            name: Arc::from(name),
            loop_settings: LoopSettings {
                ping_interval,
                close_timeout: Duration::from_millis(settings.close_timeout_ms),
                limits: settings.limits(),
                write_buffer_size: settings.write_buffer_size,
            },
            settings,
            table,
            open: AtomicUsize::new(0),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    server: Arc<ServerShared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(handle(server.clone(), stream, peer));
                }
                Err(error) => super::accept_backoff(&server.name, &error).await,
            },
            _ = shutdown.changed() => break,
        }
    }
}

/// A slot among the server's open connections, given back when the connection ends, however it
/// ends. Shutdown waits for every slot to come back.
pub(crate) struct OpenSlot(Arc<ServerShared>);

impl OpenSlot {
    /// Takes a slot; `None` (and no slot) when the server is full.
    fn take(server: &Arc<ServerShared>) -> Option<Self> {
        let slot = Self(server.clone());
        let taken = server.open.fetch_add(1, Ordering::Relaxed);
        server
            .app
            .metrics
            .live_connections
            .fetch_add(1, Ordering::Relaxed);
        (taken < server.settings.max_connections).then_some(slot)
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0
            .app
            .metrics
            .live_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Upgrades one TCP connection and, once it is accepted, spawns its connection task.
///
/// The connection gets a task of its own rather than going on in this one: a task is as large
/// as its largest state for as long as it lives, and the handshake needs several times the
/// room of an open connection. The connection's allocations are all made before this task is
/// freed, so none of them is carved out of its block (each connection would otherwise leave a
/// hole of a few KiB behind).
async fn handle(server: Arc<ServerShared>, stream: TcpStream, peer: SocketAddr) {
    let server = &server;
    // Small frames must not wait for Nagle's algorithm: latency is what WebSocket apps sell.
    let _ = stream.set_nodelay(true);
    let timeout = Duration::from_millis(server.settings.handshake_timeout_ms);
    // One budget for the TLS handshake and the upgrade request together: a slowloris client
    // must not get it twice.
    let started = tokio::time::Instant::now();
    let Some(mut transport) = secure(server, stream, timeout).await else {
        return;
    };

    let mut upgrade = match handshake::read_upgrade(
        &mut transport,
        Some(peer),
        server.settings.max_header_bytes,
        timeout.saturating_sub(started.elapsed()),
    )
    .await
    {
        Ok(upgrade) => upgrade,
        Err(HeadError::Gone) => return,
        Err(HeadError::Reject(rejection)) => {
            return reject(server, &mut transport, rejection).await;
        }
    };

    let Some(slot) = OpenSlot::take(server) else {
        let rejection = Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections, try again later\n",
        )
        .header("Retry-After", "1");
        return reject(server, &mut transport, rejection).await;
    };

    let matched = match server.table.at(upgrade.request.path()) {
        Ok(matched) => matched,
        Err(_) => {
            let rejection = Rejection::new(
                StatusCode::NOT_FOUND,
                format!("no WebSocket route for {}\n", upgrade.request.path()),
            );
            return reject(server, &mut transport, rejection).await;
        }
    };
    let (pattern, route) = matched.value;
    let params: Vec<(String, String)> = matched
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    if let Err(rejection) = check_origin(
        &server.settings.allowed_origins,
        upgrade.request.header("origin"),
    ) {
        return reject(server, &mut transport, rejection).await;
    }
    let protocol = match upgrade.select_protocol(&route.protocols) {
        Ok(protocol) => protocol,
        Err(rejection) => return reject(server, &mut transport, rejection).await,
    };

    let mut request = upgrade.request.clone();
    request.set_params(params);
    let mut accepted = upgrade.handshake(protocol);
    let hook = AssertUnwindSafe(route.endpoint.handshake(&request, &mut accepted)).catch_unwind();
    match hook.await {
        Ok(Ok(())) => {}
        Ok(Err(rejection)) => return reject(server, &mut transport, rejection).await,
        Err(panic) => {
            // No connection exists yet to close with 1011; the client gets a 500 instead and
            // the server goes on.
            tracing::error!(
                server = %server.name,
                path = request.path(),
                panic = %panic_text(&*panic),
                "on_handshake panicked; answering 500"
            );
            let rejection = Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
            return reject(server, &mut transport, rejection).await;
        }
    }
    let response = upgrade.accept_response(&accepted);
    if transport.write_all(&response).await.is_err() || transport.flush().await.is_err() {
        // The context created for this handshake is dropped here with `accepted`.
        return;
    }
    server
        .app
        .metrics
        .handshakes_accepted
        .fetch_add(1, Ordering::Relaxed);

    // Only the bytes read past the request outlive the handshake: the parsed request lives on
    // in `request`, which the connection drops after `on_open`.
    let socket = Upgraded {
        transport,
        already_read: std::mem::take(&mut upgrade.leftover),
    };
    drop(upgrade);
    let fd = server.app.fds.next();
    let shared = Arc::new(ConnShared::new(
        fd,
        Outbox::new(
            server.settings.outbound_queue_bytes,
            server.settings.backpressure,
        ),
        accepted.into_context(),
        server.name.clone(),
        Arc::from(pattern.as_str()),
    ));
    server.app.registry.insert(shared.clone());
    if !server.app.metrics.ready.load(Ordering::Relaxed) {
        // Shutdown began while this handshake was in flight: the connection still gets its
        // 1001 and its `on_close`.
        let _ = shared.close(crate::message::close_frame(1001, "server shutting down"));
    }
    let conn = Connection::new(shared, server.app.sender.clone());
    route
        .endpoint
        .spawn(socket, conn, Box::new(request), server.clone(), slot);
}

async fn secure(server: &ServerShared, stream: TcpStream, timeout: Duration) -> Option<Transport> {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &server.tls {
        return match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(Transport::Tls(Box::new(tls))),
            Ok(Err(error)) => {
                tracing::debug!(server = %server.name, error = %error, "TLS handshake failed");
                None
            }
            Err(_) => None,
        };
    }
    let _ = (server, timeout);
    Some(Transport::Plain(stream))
}

async fn reject(server: &ServerShared, transport: &mut Transport, rejection: Rejection) {
    server.app.metrics.rejected(rejection.reason_label());
    tracing::debug!(server = %server.name, status = %rejection.status(), "handshake rejected");
    handshake::write_rejection(transport, &rejection).await;
}

fn check_origin(allowed: &[String], origin: Option<&str>) -> Result<(), Rejection> {
    // Clients other than browsers send no Origin; the allow-list guards against other web pages
    // using a visitor's cookies (cross-site WebSocket hijacking).
    match origin {
        Some(origin)
            if !allowed.is_empty()
                && !allowed
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(origin)) =>
        {
            Err(Rejection::forbidden(format!(
                "origin {origin} is not allowed\n"
            )))
        }
        _ => Ok(()),
    }
}

/// The message of a panic payload, for the log.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}
