//! [`WsRoute`]: a WebSocket controller with its type erased, and what it does with an accepted
//! connection — run its handshake hook, then spawn the connection's task.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tracing::Instrument;

use crate::ws::connection::Connection;
use crate::ws::handshake::{Handshake, Rejection};
use crate::ws::plain::PlainRoute;
use crate::ws::session::{self, Upgraded};
use crate::ws::slot::OpenSlot;
use crate::{Request, WebSocketHandler};

/// A WebSocket controller with its type erased, ready to serve connections.
#[derive(Clone)]
pub struct WsRoute {
    pub(crate) endpoint: Arc<dyn WsEndpoint>,
    pub(crate) protocols: Vec<String>,
    /// Whether the route negotiates permessage-deflate (when the server does).
    pub(crate) compression: bool,
    /// What answers a plain HTTP request on the route; without it, 426.
    pub(crate) plain: Option<Arc<dyn PlainRoute>>,
}

impl std::fmt::Debug for WsRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRoute")
            .field("protocols", &self.protocols)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl WsRoute {
    /// Wraps a controller.
    pub fn new<H: WebSocketHandler>(handler: Arc<H>) -> Self {
        Self {
            endpoint: Arc::new(Endpoint(handler)),
            protocols: Vec::new(),
            compression: true,
            plain: None,
        }
    }

    /// The subprotocols this route speaks; the handshake picks the first one the client offers.
    pub fn protocols<I: IntoIterator<Item = S>, S: Into<String>>(mut self, protocols: I) -> Self {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Plain HTTP requests on the route are answered by `route` (Socket.IO's long-polling).
    pub(crate) fn plain(mut self, route: Arc<dyn PlainRoute>) -> Self {
        self.plain = Some(route);
        self
    }

    /// Whether this route compresses (permessage-deflate, when the server's
    /// `[servers.settings.compression]` is on); on by default. Turn it off for a route whose
    /// messages are already compressed (images, archives): the handshake then declines the
    /// client's offer, and the connection costs no compression CPU either way.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// struct Uploads;
    /// impl ws_core::WebSocketHandler for Uploads {}
    ///
    /// let route = ws_core::WsRoute::new(Arc::new(Uploads)).compression(false);
    /// # let _ = route;
    /// ```
    pub fn compression(mut self, enabled: bool) -> Self {
        self.compression = enabled;
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
    fn spawn(&self, socket: Upgraded, conn: Connection, request: Box<Request>, slot: OpenSlot);
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

    fn spawn(&self, socket: Upgraded, conn: Connection, request: Box<Request>, slot: OpenSlot) {
        // Every event of the connection — the framework's and its handlers' — carries its fd.
        let span = tracing::info_span!(
            "connection",
            fd = %conn.fd(),
            server = %conn.server(),
            route = %conn.route()
        );
        // Spawned with its concrete type: the task holds the connection's state inline, one
        // allocation per connection.
        tokio::spawn(session::serve(self.0.clone(), socket, conn, request, slot).instrument(span));
    }
}
