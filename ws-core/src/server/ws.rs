//! The WebSocket server: accept, upgrade, route, then hand the socket to its connection task.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::ServerSettings;
use crate::node::Node;
use crate::registry::{Compression, ConnShared};
use crate::router::{WsMatch, WsTable};
use crate::ws::bare::BareConnections;
use crate::ws::client_caps::ClientLease;
use crate::ws::codec::{Outgoing, Params};
use crate::ws::connection::Connection;
use crate::ws::endpoint::WsEndpoint;
use crate::ws::extension;
use crate::ws::handshake::{self, Handshake, HeadError, PlainHead, Rejection, Upgrade};
use crate::ws::outbox::Outbox;
use crate::ws::plain;
use crate::ws::request::Request;
use crate::ws::session::Upgraded;
use crate::ws::slot::{OpenSlot, Slots};
use crate::ws::transport::Transport;

/// One WebSocket server: what its accept loop and upgrades need.
pub(crate) struct WsServer {
    pub(crate) node: Arc<Node>,
    pub(crate) name: Arc<str>,
    pub(crate) settings: ServerSettings,
    /// Its open connections, and what their tasks share.
    pub(crate) slots: Arc<Slots>,
    pub(crate) table: WsTable,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

impl WsServer {
    pub(crate) fn new(
        node: Arc<Node>,
        name: &str,
        settings: ServerSettings,
        table: WsTable,
    ) -> Self {
        let slots = Arc::new(Slots::new(
            name,
            &settings,
            node.registry.clone(),
            node.metrics.clone(),
        ));
        Self {
            node,
            name: slots.server.clone(),
            settings,
            slots,
            table,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    server: Arc<WsServer>,
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

/// Upgrades one TCP connection and, once it is accepted, spawns its connection task.
///
/// The connection gets a task of its own rather than going on in this one: a task is as large
/// as its largest state for as long as it lives, and the handshake needs several times the
/// room of an open connection. The connection's allocations are all made before this task is
/// freed, so none of them is carved out of its block (each connection would otherwise leave a
/// hole of a few KiB behind).
async fn handle(server: Arc<WsServer>, stream: TcpStream, peer: SocketAddr) {
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
        Err(HeadError::Plain(head)) => {
            let left = timeout.saturating_sub(started.elapsed());
            return plain(server, &mut transport, *head, peer, left).await;
        }
        Err(error) => {
            server.charge_failed_attempt(peer.ip());
            return match error {
                HeadError::Gone => {}
                HeadError::Reject(rejection) => reject(server, &mut transport, rejection).await,
                HeadError::Plain(_) => {}
            };
        }
    };
    let client = server.client_of(peer.ip(), upgrade.request.headers());
    upgrade.request.set_client(client);
    let lease = match server.slots.clients.as_ref().map(|caps| {
        caps.handshake(client)?;
        caps.open(client)
    }) {
        None => None,
        Some(Ok(lease)) => lease,
        Some(Err(refusal)) => return reject(server, &mut transport, refusal.rejection()).await,
    };

    let admitted = match admit(server, &upgrade).await {
        Ok(admitted) => admitted,
        Err(rejection) => return reject(server, &mut transport, rejection).await,
    };
    let response = upgrade.accept_response(&admitted.handshake);
    if transport.write_all(&response).await.is_err() || transport.flush().await.is_err() {
        // The context created for this handshake is dropped here with `admitted`.
        return;
    }
    // Only the bytes read past the request outlive the handshake: the parsed request lives on
    // in `admitted`, which the connection drops after `on_open`.
    let socket = Upgraded {
        transport,
        already_read: std::mem::take(&mut upgrade.leftover),
        deflate: None,
    };
    drop(upgrade);
    open(server, socket, admitted, lease);
}

/// A plain HTTP request: answered by its route when the route takes them (Socket.IO's
/// long-polling), else 426 and charged to the client like a failed handshake.
async fn plain(
    server: &WsServer,
    transport: &mut Transport,
    mut head: PlainHead,
    peer: SocketAddr,
    timeout: Duration,
) {
    let route = server
        .table
        .find(head.request.path())
        .and_then(|found| found.route.plain.clone());
    let Some(route) = route else {
        server.charge_failed_attempt(peer.ip());
        return reject(server, transport, handshake::upgrade_required()).await;
    };
    let client = server.client_of(peer.ip(), head.request.headers());
    head.request.set_client(client);
    let connections = BareConnections {
        node: &server.node,
        slots: &server.slots,
        settings: &server.settings,
        client,
    };
    plain::serve(transport, head, &route, connections, timeout).await;
}

/// An upgrade the server accepted: everything its connection needs once the `101` is out.
pub(crate) struct Admitted {
    pattern: Arc<str>,
    endpoint: Arc<dyn WsEndpoint>,
    request: Request,
    pub(crate) handshake: Handshake,
    slot: OpenSlot,
    /// The permessage-deflate parameters agreed in the `101`, if any.
    deflate: Option<Params>,
}

/// Decides an upgrade request: a connection slot, the route, the Origin allow-list, the
/// subprotocol, then the controller's handshake hook. Shared by the server's own accept loop
/// and the mounted path ([`WsService`](crate::WsService)), which differ only in how the request
/// arrives and how the answer is written.
pub(crate) async fn admit(server: &WsServer, upgrade: &Upgrade) -> Result<Admitted, Rejection> {
    let Some(slot) = server.slots.take() else {
        return Err(Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections, try again later\n",
        )
        .header("Retry-After", "1"));
    };
    let Some(WsMatch {
        pattern,
        route,
        params,
    }) = server.table.find(upgrade.request.path())
    else {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("no WebSocket route for {}\n", upgrade.request.path()),
        ));
    };
    check_origin(
        &server.settings.allowed_origins,
        upgrade.request.header("origin"),
    )?;
    let protocol = upgrade.select_protocol(&route.protocols)?;
    // Parsed on every route, so a malformed header is a 400 wherever it is sent.
    let deflate = extension::negotiate(upgrade.request.headers(), &server.settings.compression)?
        .filter(|_| route.compression);

    let mut request = upgrade.request.clone();
    request.set_params(params);
    let mut handshake = upgrade.handshake(protocol);
    let hook = AssertUnwindSafe(route.endpoint.handshake(&request, &mut handshake)).catch_unwind();
    match hook.await {
        Ok(Ok(())) => {}
        Ok(Err(rejection)) => return Err(rejection),
        Err(panic) => {
            // No connection exists yet to close with 1011; the client gets a 500 instead and
            // the server goes on.
            tracing::error!(
                server = %server.name,
                path = request.path(),
                panic = %crate::ws::dispatch::panic_text(&*panic),
                "on_handshake panicked; answering 500"
            );
            return Err(Rejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error\n",
            ));
        }
    }
    let deflate = deflate.map(|(params, answer)| {
        handshake.header("Sec-WebSocket-Extensions", &answer);
        params
    });
    Ok(Admitted {
        deflate,
        pattern: Arc::from(pattern),
        endpoint: route.endpoint.clone(),
        request,
        handshake,
        slot,
    })
}

/// Opens an admitted connection whose `101` went out: registers it and spawns its task.
/// `lease` is the client's place under `max_connections_per_client`, bound to the new fd so
/// the connection's end gives it back.
pub(crate) fn open(
    server: &WsServer,
    mut socket: Upgraded,
    admitted: Admitted,
    lease: Option<ClientLease<'_>>,
) {
    let Admitted {
        pattern,
        endpoint,
        request,
        handshake,
        slot,
        deflate,
    } = admitted;
    socket.deflate = deflate;
    server
        .node
        .metrics
        .handshakes_accepted
        .fetch_add(1, Ordering::Relaxed);
    let fd = server.node.fds.next();
    let shared = Arc::new(
        ConnShared::new(
            fd,
            Outbox::new(
                server.settings.outbound_queue_bytes,
                server.settings.backpressure,
            ),
            handshake.into_context(),
            server.name.clone(),
            pattern,
        )
        .compressing(compression_of(deflate, &server.settings)),
    );
    if let Some(lease) = lease {
        lease.bind(fd);
    }
    server.node.registry.insert(shared.clone());
    if !server.node.is_ready() {
        // Shutdown began while this handshake was in flight: the connection still gets its
        // 1001 and its `on_close`.
        let _ = shared.close(crate::ws::message::close_frame(
            1001,
            "server shutting down",
        ));
    }
    let conn = Connection::new(shared, server.node.sender.clone());
    endpoint.spawn(socket, conn, Box::new(request), slot);
}

/// How room pushes reach a connection that agreed on `deflate`.
fn compression_of(deflate: Option<Params>, settings: &ServerSettings) -> Compression {
    let Some(params) = deflate.filter(|p| p.server_max_window_bits >= 9) else {
        return Compression::Off;
    };
    let outgoing = Outgoing {
        // Validated to be 0 to 9.
        level: settings.compression.level.min(9) as u8,
        window_bits: params.server_max_window_bits,
        threshold: u32::try_from(settings.compression.threshold).unwrap_or(u32::MAX),
    };
    if params.server_no_context_takeover {
        Compression::Shared(outgoing)
    } else {
        Compression::PerConnection(outgoing)
    }
}

impl WsServer {
    /// Whether `addr` is one of the trusted proxies.
    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = crate::config::canonical(addr);
        self.settings
            .trusted_proxies
            .iter()
            .any(|proxy| proxy.contains(addr))
    }

    /// The client behind `peer`: from the forwarded header when `peer` is a trusted proxy.
    fn client_of(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        crate::client_addr::client_addr(
            peer,
            headers,
            &self.settings.trusted_proxies,
            self.settings.forwarded_header,
        )
    }

    /// A failed attempt (a malformed upgrade, a plain request no route takes) costs its client a
    /// handshake too, or such requests would be a free way to keep the server parsing. Behind a
    /// trusted proxy the client is unknown here, and the proxy itself must not be charged.
    fn charge_failed_attempt(&self, peer: IpAddr) {
        let caps = self.slots.clients.as_ref();
        if let Some(caps) = caps.filter(|_| !self.trusts(peer)) {
            let _ = caps.handshake(peer);
        }
    }
}

async fn secure(server: &WsServer, stream: TcpStream, timeout: Duration) -> Option<Transport> {
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

async fn reject(server: &WsServer, transport: &mut Transport, rejection: Rejection) {
    server.node.metrics.rejected(rejection.reason_label());
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
