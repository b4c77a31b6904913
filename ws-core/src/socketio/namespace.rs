//! What a namespace does with its sockets, as `#[socketio_events]` implements it, and how the
//! macros register a namespace.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::payload::Payload;
use super::reason::DisconnectReason;
use super::socket::Socket;
use crate::BootError;
use crate::di::Container;

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
