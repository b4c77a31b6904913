//! Procedural macros of the ws framework. Use them through `ws_core` (`ws_core::ws_controller`,
//! `ws_core::prelude::*`), which re-exports them.
//!
//! Every macro runs the same three steps, each in its own module (serde_derive's
//! `internals::{ast, attr, check}`, Rocket's `attribute/route/{parse, mod}.rs`):
//!
//! - `model` reads the attribute's arguments, the item and its helper attributes (`#[inject]`,
//!   `#[value]`, `#[get]`, `#[route]`, ...) into typed values, refusing what is malformed;
//! - `check` refuses well-formed misuse: generics, wrong receivers, unbindable parameters,
//!   helper attributes where they cannot work, a route declared twice;
//! - `generate` emits the code of a checked model, one file per macro family.
//!
//! `expand` chains them for each macro. Every mistake of an item is collected (`errors`)
//! and reported at once, each at its own tokens; on error the item is emitted as written
//! (helper attributes removed) next to the errors, so the rest of the crate still type-checks
//! and rust-analyzer keeps working.

mod check;
mod errors;
mod expand;
mod generate;
mod model;
mod naming;

use proc_macro::TokenStream;

use crate::model::routes::Style;

/// Registers a WebSocket controller: Hyperf's `Router::addServer('ws', ...)` route, declared on
/// the controller.
///
/// `server` names a `[[servers]]` entry of type `websocket` and `path` the route (matchit
/// syntax, `/room/{id}`); both are required. `protocols` lists the subprotocols the route speaks:
/// the handshake selects the first one the client offers that is in the list, and answers 400 to
/// a client that offers only others. `compression = false` turns permessage-deflate off for the
/// route (one that carries already-compressed data); it follows the server's
/// `[servers.settings.compression]` otherwise.
///
/// The struct must implement [`WebSocketHandler`](../ws_core/trait.WebSocketHandler.html). The
/// container builds it once at boot: `#[inject]` fields are injected (`Sender`, `Config`,
/// `Arc<T>` of a `#[component]` or of a value given to `App::provide`), `#[value("app.key")]`
/// fields read `[app] key` of server.toml, every other field is `Default::default()`.
///
/// ```
/// use ws_core::prelude::*;
///
/// #[ws_controller(server = "ws", path = "/chat", protocols = ["chat.v2", "chat.v1"])]
/// pub struct ChatController {
///     #[inject]
///     sender: Sender,
///     #[value("app.greeting")]
///     greeting: String,
/// }
///
/// impl WebSocketHandler for ChatController {
///     async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
///         conn.push(self.greeting.clone()).await?;
///         Ok(())
///     }
/// }
/// ```
///
/// What only boot can check fails there, as one line: a server that server.toml does not
/// define, two controllers on one route, an `Arc<T>` without a provider, a missing config value.
#[proc_macro_attribute]
pub fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::ws_controller(attr.into(), item.into()).into()
}

/// Declares an HTTP controller, Hyperf's `@Controller` / `@AutoController`: its routes come from
/// `#[auto_routes]` or `#[routes]` on its impl block.
///
/// Both keys are optional: `server` (default `"http"`) names a `[[servers]]` entry of type
/// `http`; `prefix` is the path every route of the controller starts with, by default the type
/// name without `Controller`, in snake case (`UserProfileController` -> `/user_profile`).
/// Fields are built as for [`ws_controller`](macro@ws_controller).
///
/// ```
/// use ws_core::prelude::*;
///
/// #[controller(prefix = "/server")]
/// pub struct ServerController {
///     #[inject]
///     sender: Sender,
/// }
///
/// #[auto_routes]
/// impl ServerController {
///     /// `GET|POST|HEAD /server/send?fd=1`
///     pub async fn send(&self, fd: Fd) -> Result<&'static str> {
///         self.sender.push(fd, "Hello World.").await?;
///         Ok("")
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::controller(attr.into(), item.into()).into()
}

/// Every `pub async fn name(&self, ..)` of the impl becomes the route `PREFIX/name`, answering
/// GET, POST and HEAD (Hyperf's `@AutoController`).
///
/// Methods that are not `pub` (including `pub(crate)`) are left alone, so helpers can live in
/// the same impl. A `pub fn` that is not `async` is an error rather than a silently skipped
/// route: in an `#[auto_routes]` impl, `pub` is what makes a route.
///
/// Each parameter after `&self` is bound by its name, like Hyperf binds action arguments: from
/// the path parameters, then the query string, then a form or JSON body
/// ([`HttpRequest::param`](../ws_core/http/struct.HttpRequest.html#method.param)); a missing or
/// malformed one answers 400 naming it (an `Option<T>` parameter may be missing). A parameter of
/// type `HttpRequest` or `&HttpRequest` receives the request. The return value is anything
/// [`IntoResponse`](../ws_core/http/trait.IntoResponse.html): `String`, `&'static str`, `()`,
/// `Json<T>`, `(StatusCode, T)`, `Result<T, ws_core::Error>`, ...
///
/// ```
/// use ws_core::prelude::*;
///
/// #[controller]
/// pub struct StatsController;
///
/// #[auto_routes]
/// impl StatsController {
///     /// `/stats/hello?name=ada`
///     pub async fn hello(&self, name: String) -> String {
///         self.greet(&name)
///     }
///
///     fn greet(&self, name: &str) -> String {
///         format!("Hello, {name}!")
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn auto_routes(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::routes(attr.into(), item.into(), Style::Auto).into()
}

/// Routes declared per method (Hyperf's `@Controller` with `@GetMapping`, ...): `#[get("/path")]`,
/// `#[post]`, `#[put]`, `#[delete]`, `#[patch]`, `#[head]`, `#[options]`, or
/// `#[route(path = "/path", methods = ["GET", "POST"])]`. Paths are under the controller's prefix
/// and may hold matchit parameters (`/{id}`). A method may carry several route attributes;
/// methods without one are left alone. `#[get]` routes also answer HEAD (without a body).
///
/// Parameters and return values work as in [`auto_routes`](macro@auto_routes).
///
/// ```
/// use ws_core::prelude::*;
/// use ws_core::http::StatusCode;
///
/// #[controller(prefix = "/users")]
/// pub struct UserController;
///
/// #[routes]
/// impl UserController {
///     #[get("/{id}")]
///     async fn show(&self, id: u64) -> Json<u64> {
///         Json(id)
///     }
///
///     #[route(path = "/", methods = ["POST", "PUT"])]
///     async fn save(&self, name: String) -> (StatusCode, String) {
///         (StatusCode::CREATED, name)
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn routes(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::routes(attr.into(), item.into(), Style::Explicit).into()
}

/// A Socket.IO namespace (Hyperf's `#[SocketIONamespace("/")]`): the struct is built once at
/// boot with its `#[inject]` fields and serves `path` (default `/`) of the WebSocket server
/// `server`, whose `[servers.settings.socketio]` must be enabled. Its handlers come from an impl
/// with `#[socketio_events]`.
///
/// ```ignore
/// #[socketio_namespace(server = "ws", path = "/")]
/// #[derive(Default)]
/// pub struct Chat {
///     #[inject]
///     io: SocketIo,
/// }
/// ```
#[proc_macro_attribute]
pub fn socketio_namespace(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::socketio_namespace(attr.into(), item.into()).into()
}

/// The event handlers of a `#[socketio_namespace]`: each `#[event("name")]` method
/// `async fn(&self, socket: &Socket, data: T) -> R` handles one event (`T` a serde type or
/// `Payload`; `R` is the acknowledgement); `on_connect(&self, socket, auth)` may refuse the
/// client with `Err(message)`; `on_disconnect(&self, socket, reason)` runs when it leaves.
///
/// ```ignore
/// #[socketio_events]
/// impl Chat {
///     #[event("event")]
///     async fn event(&self, _socket: &Socket, data: String) -> String {
///         format!("Event Received: {data}")
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn socketio_events(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::socketio_events(attr.into(), item.into()).into()
}

/// Registers an injectable singleton, built once at boot on first use and injected as `Arc<T>`
/// into `#[inject]` fields (Hyperf's container-managed classes). Its own fields are built as for
/// [`ws_controller`](macro@ws_controller), so components may inject each other; a cycle is a
/// boot error naming it.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use ws_core::prelude::*;
///
/// #[component]
/// pub struct Counter {
///     hits: AtomicU64,
/// }
///
/// #[controller]
/// pub struct HitsController {
///     #[inject]
///     counter: Arc<Counter>,
/// }
///
/// #[auto_routes]
/// impl HitsController {
///     pub async fn hit(&self) -> String {
///         (self.counter.hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::component(attr.into(), item.into()).into()
}

/// The app's entry point: starts the runtime, runs the body (routes in code, providers,
/// anything async), then the app's command line — `start` (the default) boots every server of
/// `config/server.toml` and serves until SIGINT or SIGTERM.
///
/// The function may take the app being set up (`app: &mut App`) and may return
/// `Result<(), E>` with `E: Into<ws_core::Error>`; an `Err`, like any boot error, is printed as
/// one line and exits non-zero.
///
/// ```no_run
/// use ws_core::prelude::*;
/// use ws_core::http::HttpRequest;
///
/// #[ws_core::main]
/// async fn main(app: &mut App) -> ws_core::Result<()> {
///     app.router("http").get("/ping", |_req: HttpRequest| async { "pong" });
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::main_fn(attr.into(), item.into()).into()
}
