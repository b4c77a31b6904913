//! # ws-core
//!
//! The runtime of a macro-annotated WebSocket application framework, the Rust counterpart of
//! Hyperf's `websocket-server`: servers declared in `config/server.toml`, controllers annotated
//! with `#[ws_controller]` and `#[controller]`, services injected with `#[inject]`, and a
//! [`Sender`] that pushes to or disconnects any connection of the cluster from anywhere.
//!
//! ```no_run
//! use ws_core::prelude::*;
//!
//! #[ws_controller(server = "ws", path = "/")]
//! pub struct WebSocketController;
//!
//! impl WebSocketHandler for WebSocketController {
//!     async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
//!         conn.push("Opened").await?;
//!         Ok(())
//!     }
//!     async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
//!         conn.push(format!("Recv: {}", msg.to_text()?)).await?;
//!         Ok(())
//!     }
//! }
//!
//! #[ws_core::main]
//! async fn main() {}
//! ```
#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs`: each feature-gated item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Library code does not unwrap on input; tests may.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

extern crate self as ws_core;

mod app;
mod client_addr;
mod cluster;
mod config;
pub mod di;
mod error;
mod fd;
pub mod http;
mod metrics;
mod node;
mod observe;
pub mod permessage_deflate;
mod registration;
mod registry;
mod router;
mod secret;
mod sender;
mod server;
pub mod socketio;
mod telemetry;
#[cfg(feature = "tls")]
mod tls;
mod ws;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use app::{App, EmbeddedApp, RunningApp};
pub use cluster::{Command as ClusterCommand, MemberInfo as ClusterMember, Reply as ClusterReply};
pub use config::{
    BackpressurePolicy, ClusterConfig, CompressionSettings, Config, ConfigError, ForwardedHeader,
    LogConfig, LogFormat, MetricsConfig, RecoverySettings, RuntimeConfig, ServerConfig, ServerKind,
    ServerSettings, SocketIoSettings, SocketIoTransport, TlsSettings, TrustedProxy,
    TrustedProxyError,
};
pub use error::{
    BootError, ClusterError, Error, HttpError, InjectError, Result, RouteError, SendError,
};
pub use fd::{Fd, NodeId};
pub use registration::HttpController;
pub use registry::Delivery;
pub use router::{RouteInfo, ServerRoutes};
pub use sender::Sender;
pub use server::WsService;
pub use ws::{
    Bytes, CloseCode, CloseFrame, CloseInfo, CloseInitiator, Connection, Context, Handshake,
    Message, Rejection, Request, RequestBuilder, Utf8Bytes, WebSocketHandler, WsRoute,
};
pub use ws_macros::{
    auto_routes, component, controller, main, routes, socketio_events, socketio_namespace,
    ws_controller,
};

/// The guides, rendered here so the API docs carry them; every Rust block in them is a doctest.
///
/// They live in the repository's `docs/` folder (reached through the crate's `guides` link, which
/// packaging copies), English here and Chinese (`docs/zh/`) as doctests only.
pub mod guides {
    #[doc = include_str!("../guides/01-install.md")]
    pub mod install {}
    #[doc = include_str!("../guides/02-servers.md")]
    pub mod servers {}
    #[doc = include_str!("../guides/03-routes.md")]
    pub mod routes {}
    #[doc = include_str!("../guides/04-controllers.md")]
    pub mod controllers {}
    #[doc = include_str!("../guides/05-context.md")]
    pub mod context {}
    #[doc = include_str!("../guides/06-nginx.md")]
    pub mod nginx {}
    #[doc = include_str!("../guides/07-sender.md")]
    pub mod sender {}
    #[doc = include_str!("../guides/08-macros.md")]
    pub mod macros {}
    #[doc = include_str!("../guides/09-cluster.md")]
    pub mod cluster {}
    #[doc = include_str!("../guides/10-limits.md")]
    pub mod limits {}
    #[doc = include_str!("../guides/11-tls.md")]
    pub mod tls {}
    #[doc = include_str!("../guides/12-deployment.md")]
    pub mod deployment {}
    // Its example needs the `testing` feature to run as a doctest.
    #[cfg_attr(
        any(not(doctest), feature = "testing"),
        doc = include_str!("../guides/13-testing.md")
    )]
    #[cfg_attr(
        all(doctest, not(feature = "testing")),
        doc = "The testing guide; its example needs the `testing` feature."
    )]
    pub mod testing {}
    #[doc = include_str!("../guides/15-middleware.md")]
    pub mod middleware {}
    #[doc = include_str!("../guides/14-compression.md")]
    pub mod compression {}
    #[doc = include_str!("../guides/16-socketio.md")]
    pub mod socketio {}
}

/// The Chinese guides (`docs/zh/`), compiled as doctests like the English ones.
#[cfg(doctest)]
mod guides_zh {
    macro_rules! guide {
        ($($(#[$attr:meta])* $name:ident => $path:literal,)*) => {
            $(
                $(#[$attr])*
                #[doc = include_str!(concat!("../guides/zh/", $path))]
                struct $name;
            )*
        };
    }
    guide! {
        Install => "01-install.md",
        Servers => "02-servers.md",
        Routes => "03-routes.md",
        Controllers => "04-controllers.md",
        ConnectionContext => "05-context.md",
        Nginx => "06-nginx.md",
        SenderGuide => "07-sender.md",
        Macros => "08-macros.md",
        Cluster => "09-cluster.md",
        Limits => "10-limits.md",
        Tls => "11-tls.md",
        Deployment => "12-deployment.md",
        #[cfg(feature = "testing")]
        Testing => "13-testing.md",
        Middleware => "15-middleware.md",
        Compression => "14-compression.md",
        SocketIo => "16-socketio.md",
    }
}

/// Everything a controller file needs: `use ws_core::prelude::*;`.
pub mod prelude {
    pub use crate::http::{HttpRequest, IntoResponse, Json, Response, StatusCode};
    pub use crate::socketio::{DisconnectReason, Payload, Socket, SocketIo};
    pub use crate::{
        App, CloseInfo, Connection, Context, Error, Fd, Handshake, HttpError, Message, Rejection,
        Request, Result, SendError, Sender, WebSocketHandler, auto_routes, component, controller,
        routes, socketio_events, socketio_namespace, ws_controller,
    };
}

/// Items the macros' generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::di::{
        ComponentRegistration, Construct, Container, Inject, InjectSite, config_value,
    };
    pub use crate::http::layer::ControllerLayer;
    pub use crate::http::{BoxedHandler, HttpRequest, IntoResponse, ParamRejection};
    pub use crate::registration::{
        HttpController, HttpRouteRegistration, WsControllerRegistration,
    };
    pub use crate::socketio::{
        FromPayload, IntoAck, IntoConnectResult, NamespaceEvents, Payload, PayloadError,
        SocketIoNamespaceRegistration,
    };
    pub use crate::ws::WsRoute;
    pub use crate::{App, BootError};
    pub use futures_util::future::BoxFuture;
    pub use inventory;
    pub use std::sync::Arc;

    /// The body of `#[ws_core::main]`.
    pub fn run_main<F, Fut>(setup: F) -> std::process::ExitCode
    where
        F: FnOnce(App) -> Fut,
        Fut: std::future::Future<Output = crate::Result<App>>,
    {
        App::new().run_with(setup)
    }

    /// The body of `#[ws_core::main]`, with the app crate's manifest folder for its `config/`.
    pub fn run_main_in<F, Fut>(manifest_dir: &str, setup: F) -> std::process::ExitCode
    where
        F: FnOnce(App) -> Fut,
        Fut: std::future::Future<Output = crate::Result<App>>,
    {
        App::new()
            .fallback_config_dir(std::path::Path::new(manifest_dir).join("config"))
            .run_with(setup)
    }

    /// Boxes a route future; keeps generated code short.
    pub fn boxed<F>(future: F) -> futures_util::future::BoxFuture<'static, crate::http::Response>
    where
        F: std::future::Future<Output = crate::http::Response> + Send + 'static,
    {
        Box::pin(future)
    }
}
