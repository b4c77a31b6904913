//! What a namespace does with its sockets, as `#[socketio_events]` implements it, and how the
//! macros register a namespace.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::payload::Payload;
use super::socket::Socket;
use crate::BootError;
use crate::di::Container;

/// Why a socket left its namespace, as `on_disconnect` receives it. Its text is the reason
/// Socket.IO's clients and servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed the connection.
    TransportClose,
    /// The connection dropped without a closing handshake.
    TransportError,
    /// The client stopped answering pings within `ping_interval_ms + ping_timeout_ms`.
    PingTimeout,
    /// The client sent a packet that is not of the protocol.
    ParseError,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server called [`Socket::disconnect`].
    ServerNamespaceDisconnect,
    /// The server closed the connection (a remote `disconnect`, a limit).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl DisconnectReason {
    /// The reason's text, e.g. `"ping timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShuttingDown => "server shutting down",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespace's event handlers. `#[socketio_events]` implements it from the `#[event]` methods
/// and `on_connect` / `on_disconnect` of an impl block; it is not meant to be written by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no Socket.IO event handlers",
    label = "`#[socketio_namespace]` needs its events",
    note = "add `#[socketio_events]` to an `impl {Self} {{ .. }}` block with `#[event(\"name\")]` methods"
)]
pub trait NamespaceEvents: Send + Sync + 'static {
    /// Runs the handler of `event`; `None` when the namespace has none.
    fn event<'a>(
        &'a self,
        socket: &'a Socket,
        event: &'a str,
        payload: Payload,
    ) -> Option<BoxFuture<'a, Payload>>;

    /// Runs `on_connect` with the client's `auth`; `Err` refuses the socket with that message.
    fn connect<'a>(
        &'a self,
        socket: &'a Socket,
        auth: Payload,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Runs `on_disconnect`.
    fn disconnect<'a>(&'a self, socket: &'a Socket, reason: DisconnectReason) -> BoxFuture<'a, ()>;
}

/// A `#[socketio_namespace(server = "...", path = "...")]` registration.
#[derive(Debug)]
pub struct SocketIoNamespaceRegistration {
    /// The WebSocket server's name; its `[servers.settings.socketio]` must be enabled.
    pub server: &'static str,
    /// The namespace, e.g. `/`.
    pub path: &'static str,
    /// The namespace type's name.
    pub controller: &'static str,
    /// Builds the namespace singleton.
    pub build: fn(&mut Container) -> Result<Arc<dyn NamespaceEvents>, BootError>,
}

inventory::collect!(SocketIoNamespaceRegistration);
