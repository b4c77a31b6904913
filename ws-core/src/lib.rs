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
//! #[derive(Default)]
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
// Library code does not unwrap on input; tests may.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

extern crate self as ws_core;

mod app;
mod cluster;
mod config;
pub mod di;
mod error;
mod fd;
pub mod http;
mod metrics;
mod node;
mod observe;
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
pub mod testing;

pub use app::{App, RunningApp};
pub use cluster::{Command as ClusterCommand, Reply as ClusterReply};
pub use config::{
    BackpressurePolicy, ClusterConfig, Config, ConfigError, LogConfig, LogFormat, MetricsConfig,
    RuntimeConfig, ServerConfig, ServerKind, ServerSettings, SocketIoSettings, TlsSettings,
};
pub use error::{
    BootError, ClusterError, Error, HttpError, InjectError, Result, RouteError, SendError,
};
pub use fd::{Fd, NodeId};
pub use registration::HttpController;
pub use registry::Delivery;
pub use router::{RouteInfo, ServerRoutes};
pub use sender::Sender;
pub use ws::{
    Bytes, CloseCode, CloseFrame, CloseInfo, CloseInitiator, Connection, Context, Handshake,
    Message, Rejection, Request, RequestBuilder, Utf8Bytes, WebSocketHandler, WsRoute,
};
pub use ws_macros::{
    auto_routes, component, controller, main, routes, socketio_events, socketio_namespace,
    ws_controller,
};

/// The guides under `docs/`, English and Chinese: every Rust block in them is a doctest.
#[cfg(doctest)]
mod guides {
    macro_rules! guide {
        ($($(#[$attr:meta])* $name:ident => $path:literal,)*) => {
            $(
                $(#[$attr])*
                #[doc = include_str!(concat!("../../docs/", $path))]
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
        SocketIoGuide => "16-socketio.md",
        ZhInstall => "zh/01-install.md",
        ZhServers => "zh/02-servers.md",
        ZhRoutes => "zh/03-routes.md",
        ZhControllers => "zh/04-controllers.md",
        ZhConnectionContext => "zh/05-context.md",
        ZhNginx => "zh/06-nginx.md",
        ZhSender => "zh/07-sender.md",
        ZhMacros => "zh/08-macros.md",
        ZhCluster => "zh/09-cluster.md",
        ZhLimits => "zh/10-limits.md",
        ZhTls => "zh/11-tls.md",
        ZhDeployment => "zh/12-deployment.md",
        #[cfg(feature = "testing")]
        ZhTesting => "zh/13-testing.md",
        ZhSocketIo => "zh/16-socketio.md",
    }
}

/// Everything a controller file needs: `use ws_core::prelude::*;`.
pub mod prelude {
    pub use crate::http::{HttpRequest, IntoResponse, Json};
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
