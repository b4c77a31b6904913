//! Bare connections: connections without a socket of their own, whose outbound queue is
//! drained by whatever carries them — Engine.IO's long-polling requests, then the WebSocket a
//! polling session upgrades to.
//!
//! A bare connection is a connection like any other for the rest of the framework: it has an
//! fd, sits in the registry, joins rooms, takes a slot of its server (so `max_connections` and
//! shutdown count it) and a place under its client's caps.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use http::StatusCode;

use crate::config::ServerSettings;
use crate::node::Node;
use crate::registry::ConnShared;
use crate::ws::connection::Connection;
use crate::ws::context::Context;
use crate::ws::outbox::{Outbound, Outbox, Wait};
use crate::ws::rejection::Rejection;
use crate::ws::slot::{OpenSlot, Slots};

/// Opens bare connections on the server a request came to.
#[derive(Clone, Copy)]
pub(crate) struct BareConnections<'a> {
    pub(crate) node: &'a Node,
    pub(crate) slots: &'a Arc<Slots>,
    pub(crate) settings: &'a ServerSettings,
    /// The client address, proxies accounted for.
    pub(crate) client: IpAddr,
}

impl BareConnections<'_> {
    /// The client's address (behind trusted proxies, the one they forwarded).
    pub(crate) fn client(&self) -> IpAddr {
        self.client
    }

    /// Opens a connection on `route`, charged to the client like a WebSocket handshake; the
    /// rejection the client gets when the server or the client is at its limit.
    pub(crate) fn open(&self, route: &str) -> Result<BareConnection, Rejection> {
        let lease = match self.slots.clients.as_ref().map(|caps| {
            caps.handshake(self.client)?;
            caps.open(self.client)
        }) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(lease))) => Some(lease),
            Some(Err(refusal)) => return Err(refusal.rejection()),
        };
        let Some(slot) = self.slots.take() else {
            return Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many connections, try again later\n",
            )
            .header("Retry-After", "1"));
        };
        if !self.node.is_ready() {
            return Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server shutting down\n",
            ));
        }
        self.node
            .metrics
            .handshakes_accepted
            .fetch_add(1, Ordering::Relaxed);
        let fd = self.node.fds.next();
        let shared = Arc::new(ConnShared::new(
            fd,
            Outbox::new(
                self.settings.outbound_queue_bytes,
                self.settings.backpressure,
            ),
            Context::default(),
            self.slots.server.clone(),
            Arc::from(route),
        ));
        if let Some(lease) = lease {
            lease.bind(fd);
        }
        self.node.registry.insert(shared.clone());
        Ok(BareConnection {
            conn: Connection::new(shared, self.node.sender.clone()),
            slot,
        })
    }
}

/// A connection without a socket. Dropping it ends the connection: out of the registry and its
/// rooms, its queue refuses pushes, its slot and its client's place are given back.
pub(crate) struct BareConnection {
    conn: Connection,
    slot: OpenSlot,
}

impl std::fmt::Debug for BareConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareConnection")
            .field("fd", &self.conn.fd())
            .finish_non_exhaustive()
    }
}

impl BareConnection {
    /// The handle handlers get.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Whether a close was queued: nothing more will be accepted.
    pub(crate) fn is_closing(&self) -> bool {
        self.conn.shared.outbox.is_closed()
    }

    /// Everything queued, without waiting.
    pub(crate) fn take_queued(&self) -> VecDeque<Outbound> {
        let mut items = VecDeque::new();
        self.conn.shared.outbox.take(&mut items);
        items
    }

    /// Everything queued, once there is something; nothing once the connection has ended.
    /// Only one task may wait at a time: the queue wakes a single waiter.
    pub(crate) async fn next_queued(&self) -> VecDeque<Outbound> {
        let outbox = &self.conn.shared.outbox;
        let mut items = VecDeque::new();
        poll_fn(|cx| {
            loop {
                // A queued close is taken first; closed and empty means ended.
                if outbox.take(&mut items) || outbox.is_closed() {
                    return Poll::Ready(());
                }
                if outbox.wait(cx, true, false) == Wait::Waiting {
                    return Poll::Pending;
                }
            }
        })
        .await;
        items
    }

    /// Ends the connection now: out of the registry and its rooms, pushes refused, the
    /// client's place given back. The slot is given back when the connection is dropped, so
    /// shutdown waits for whoever still holds it (its `on_close`).
    pub(crate) fn end(&self) {
        let server = self.slot.server();
        let fd = self.conn.fd();
        server.registry.remove(fd);
        self.conn.shared.outbox.shut();
        if let Some(clients) = &server.clients {
            clients.closed(fd);
        }
    }
}

impl Drop for BareConnection {
    fn drop(&mut self) {
        self.end();
    }
}
