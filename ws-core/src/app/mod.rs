//! [`App`]: collects routes and providers, boots every configured server, shuts down gracefully.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | `App` and its builder methods |
//! | `cli.rs` | the app's command line (`start`, `routes`, `config`), the runtime, `.env` |
//! | `routes.rs` | the macro registrations as routes, and the route listing |
//! | `boot.rs` | `App::start`: the node, the route tables, every server bound and spawned |
//! | `running.rs` | `RunningApp`: addresses, graceful shutdown, signals |
//! | `embedded.rs` | `App::start_embedded`: WebSocket servers as tower services for axum |

mod boot;
mod cli;
mod embedded;
mod routes;
mod running;
mod socketio;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::http::layer::{BoxBody, BoxError, HttpService, ServerLayers};
use crate::router::{RouteDef, ServerRoutes};

pub use embedded::EmbeddedApp;
pub use running::RunningApp;

/// An application: the servers of `config/server.toml`, the routes registered by the controller
/// macros, and any routes and providers added in code.
///
/// ```no_run
/// use ws_core::prelude::*;
///
/// #[derive(Default)]
/// struct Echo;
/// impl WebSocketHandler for Echo {
///     async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
///         conn.push(msg).await?;
///         Ok(())
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     let mut app = App::new();
///     app.router("ws").ws("/", Echo);
///     app.run()
/// }
/// ```
pub struct App {
    routes: Vec<RouteDef>,
    config: Option<Config>,
    fallback_config_dir: Option<PathBuf>,
    provided: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    layers: ServerLayers,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app with no routes in code; macro-registered controllers are always included.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            config: None,
            fallback_config_dir: None,
            provided: HashMap::new(),
            layers: ServerLayers::default(),
        }
    }

    /// Uses `config` instead of reading `config/server.toml`.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The config folder used when `--config`, `WS_CONFIG_DIR` and `./config` all give nothing;
    /// `#[ws_core::main]` sets it to the app crate's `config/` folder.
    pub fn fallback_config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fallback_config_dir = Some(dir.into());
        self
    }

    /// The routes of server `server` (Hyperf's `Router::addServer`).
    pub fn router(&mut self, server: &str) -> ServerRoutes<'_> {
        ServerRoutes {
            routes: &mut self.routes,
            server: server.to_string(),
        }
    }

    /// Wraps every request of HTTP server `server` in a tower `layer` (tower-http's trace,
    /// timeout, CORS, compression, or your own): the middleware of config mode. Layers added
    /// later wrap the earlier ones, so the last one added sees a request first. A server name
    /// the config does not define fails the boot with [`RouteError::LayerServer`](crate::RouteError::LayerServer).
    ///
    /// ```
    /// use ws_core::App;
    /// use ws_core::http::HttpRequest;
    ///
    /// let mut app = App::new();
    /// app.router("http").get("/ping", |_req: HttpRequest| async { "pong" });
    /// // e.g. tower_http::cors::CorsLayer::permissive()
    /// app.layer("http", tower::layer::util::Identity::new());
    /// ```
    pub fn layer<L, B>(&mut self, server: &str, layer: L) -> &mut Self
    where
        L: tower::Layer<HttpService> + Send + Sync + 'static,
        L::Service: tower::Service<http::Request<BoxBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<BoxBody>>>::Future: Send + 'static,
        <L::Service as tower::Service<http::Request<BoxBody>>>::Error: Into<BoxError>,
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.layers.add(server, crate::http::layer::erase(layer));
        self
    }

    /// Makes `value` injectable as `Arc<T>`.
    pub fn provide<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.provided.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }
}
