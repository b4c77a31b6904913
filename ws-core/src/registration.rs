//! What the controller macros register through `inventory`; read once at boot.

use crate::BootError;
use crate::di::{Construct, Container};
use crate::http::BoxedHandler;
use crate::http::layer::ControllerLayer;
use crate::ws::endpoint::WsRoute;

/// A `#[ws_controller(server = "...", path = "...")]` registration.
#[derive(Debug)]
pub struct WsControllerRegistration {
    /// The WebSocket server's name.
    pub server: &'static str,
    /// The route path.
    pub path: &'static str,
    /// The controller's type name.
    pub controller: &'static str,
    /// Supported subprotocols; the handshake picks the first one the client offers.
    pub protocols: &'static [&'static str],
    /// Whether the route negotiates permessage-deflate (`compression = false` turns it off).
    pub compression: bool,
    /// Builds the controller singleton and its route.
    pub build: fn(&mut Container) -> Result<WsRoute, BootError>,
}

inventory::collect!(WsControllerRegistration);

/// One route of an HTTP controller (`#[controller]` + `#[auto_routes]` / `#[routes]`).
#[derive(Debug)]
pub struct HttpRouteRegistration {
    /// The HTTP server's name.
    pub server: &'static str,
    /// The controller's prefix, e.g. `/server`.
    pub prefix: &'static str,
    /// The path under the prefix, e.g. `/send`.
    pub path: &'static str,
    /// HTTP methods, upper-case.
    pub methods: &'static [&'static str],
    /// The controller's type name.
    pub controller: &'static str,
    /// The method's name.
    pub handler: &'static str,
    /// Builds the controller singleton and the route's handler.
    pub build: fn(&mut Container) -> Result<BoxedHandler, BootError>,
    /// The controller's tower layer (`#[controller(layer = ..)]`), if any.
    pub layer: fn() -> Option<ControllerLayer>,
}

inventory::collect!(HttpRouteRegistration);

impl HttpRouteRegistration {
    /// The full path: prefix and path joined with exactly one `/`.
    pub fn full_path(&self) -> String {
        join_path(self.prefix, self.path)
    }
}

pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    match (prefix.is_empty(), path.is_empty()) {
        (true, true) => "/".to_string(),
        (true, false) => format!("/{path}"),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{path}"),
    }
}

/// The server and prefix of an HTTP controller, set by `#[controller]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP controller",
    label = "routes need a controller",
    note = "add `#[controller]` (or `#[controller(prefix = \"/path\")]`) to the struct `{Self}`"
)]
pub trait HttpController: Construct {
    /// The HTTP server's name (`"http"` by default).
    const SERVER: &'static str;
    /// The path prefix (from the type name by default: `ServerController` -> `/server`).
    const PREFIX: &'static str;

    /// The tower layer around the controller's routes (`#[controller(layer = path::to_fn)]`);
    /// none by default.
    fn layer() -> Option<ControllerLayer> {
        None
    }
}
