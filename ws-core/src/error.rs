//! The error types: [`Error`] for handlers, [`SendError`] for delivery, [`BootError`] (with
//! [`ClusterError`]) for a failed boot.

use std::fmt;

use http::StatusCode;

use crate::Fd;

/// Why a push, disconnect or query through a [`Sender`](crate::Sender) or
/// [`Connection`](crate::Connection) did not happen. Every variant is a normal outcome a caller can
/// match on; none of them is logged by the framework.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No node holds a connection with this fd (it closed, or never existed).
    #[error("connection {0} is not connected")]
    NotConnected(Fd),
    /// The client is not reading fast enough and its outbound queue is full.
    #[error("connection {0} is not reading: its outbound queue is full")]
    Backpressure(Fd),
    /// The cluster broker cannot be reached; local delivery still works.
    #[error("the cluster broker is unavailable: {0}")]
    BrokerUnavailable(String),
    /// The owning node did not answer in time.
    #[error("no answer from node {node} within {millis} ms")]
    Timeout {
        /// The node that was asked.
        node: crate::NodeId,
        /// How long the caller waited.
        millis: u64,
    },
}

impl SendError {
    /// The HTTP status this error maps to when an HTTP handler returns it.
    pub fn status(&self) -> StatusCode {
        match self {
            SendError::NotConnected(_) => StatusCode::NOT_FOUND,
            SendError::Backpressure(_) => StatusCode::SERVICE_UNAVAILABLE,
            SendError::BrokerUnavailable(_) => StatusCode::BAD_GATEWAY,
            SendError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// The error of handlers: anything that implements `std::error::Error` converts into it with `?`.
///
/// An HTTP handler's `Error` becomes a JSON error response: a [`SendError`] keeps its
/// [status](SendError::status), an [`HttpError`] its own status, anything else answers 500.
///
/// ```
/// fn parse(text: &str) -> ws_core::Result<u64> {
///     Ok(text.parse::<u64>()?)
/// }
/// assert!(parse("x").is_err());
/// ```
pub struct Error {
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl Error {
    /// An error with only a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            inner: message.to_string().into(),
        }
    }

    /// The underlying error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref::<E>()
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        if let Some(e) = self.downcast_ref::<SendError>() {
            e.status()
        } else if let Some(e) = self.downcast_ref::<HttpError>() {
            e.status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        Self {
            inner: Box::new(error),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut source = self.inner.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// `Result<T, ws_core::Error>`.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// An error with an HTTP status, for handlers that want to answer 4xx.
///
/// ```
/// use ws_core::{HttpError, http::StatusCode};
/// let e = HttpError::new(StatusCode::FORBIDDEN, "not yours");
/// assert_eq!(e.to_string(), "not yours");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// The status to answer with.
    pub status: StatusCode,
    /// The message, sent in the JSON body as `error`.
    pub message: String,
}

impl HttpError {
    /// An error answering `status` with `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// A failure to boot: one line naming what is wrong, printed before a non-zero exit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The config could not be used.
    #[error("config error: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// A port could not be bound.
    #[error("cannot start {kind} server `{server}` at {addr}: {reason}")]
    Bind {
        /// `HTTP` or `WebSocket`.
        kind: &'static str,
        /// The server's name.
        server: String,
        /// The address.
        addr: String,
        /// The OS error.
        reason: String,
    },
    /// A route or controller cannot be registered.
    #[error("route error: {0}")]
    Route(#[from] RouteError),
    /// A dependency cannot be provided.
    #[error("injection error: {0}")]
    Inject(#[from] InjectError),
    /// The cluster backplane cannot start.
    #[error("cluster error: {0}")]
    Cluster(#[from] ClusterError),
    /// TLS material is unusable.
    #[error("tls error: server `{server}`: {reason}")]
    Tls {
        /// The server's name.
        server: String,
        /// What is wrong.
        reason: String,
    },
    /// The runtime could not be created.
    #[error("runtime error: {0}")]
    Runtime(String),
}

/// Why a route cannot be registered at boot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The route names a server the config does not define.
    #[error("`{controller}` routes `{path}` on server `{server}`, which {config} does not define")]
    UnknownServer {
        /// The controller or handler.
        controller: String,
        /// The route's path.
        path: String,
        /// The server it names.
        server: String,
        /// The config file, or "the config".
        config: String,
    },
    /// A WebSocket controller on an HTTP server.
    #[error("`{controller}` is a WebSocket controller but server `{server}` is of type `http`")]
    WebSocketOnHttp {
        /// The controller.
        controller: String,
        /// The server it names.
        server: String,
    },
    /// An HTTP route on a WebSocket server.
    #[error("`{controller}` is an HTTP route but server `{server}` is of type `websocket`")]
    HttpOnWebSocket {
        /// The controller or handler.
        controller: String,
        /// The server it names.
        server: String,
    },
    /// Two controllers on one route (and method, for HTTP).
    #[error(
        "two controllers on server `{server}` route {}`{path}` (the second is `{controller}`)",
        method.as_ref().map(|m| format!("{m} ")).unwrap_or_default()
    )]
    Duplicate {
        /// The server.
        server: String,
        /// The route's path.
        path: String,
        /// The HTTP method both claim; `None` for a WebSocket route.
        method: Option<http::Method>,
        /// The second controller.
        controller: String,
    },
    /// The path is not a valid pattern, or conflicts with another one.
    #[error("server `{server}` route `{path}`: {reason}")]
    Pattern {
        /// The server.
        server: String,
        /// The route's path.
        path: String,
        /// What the router found wrong.
        reason: String,
    },
    /// A controller macro named an HTTP method that does not exist.
    #[error("invalid method `{0}`")]
    InvalidMethod(String),
    /// `App::layer` names a server the config does not define, or one that is not `http`.
    #[error(
        "a tower layer is added to server `{server}`, which {config} does not define as an `http` server"
    )]
    LayerServer {
        /// The server it names.
        server: String,
        /// The config file, or "the config".
        config: String,
    },
    /// A Socket.IO namespace on a server that does not speak Socket.IO.
    #[error(
        "`{controller}` is a Socket.IO namespace on server `{server}`, which {reason}; set `[servers.settings.socketio] enabled = true` on a websocket server"
    )]
    SocketIoDisabled {
        /// The namespace type.
        controller: String,
        /// The server it names.
        server: String,
        /// What is wrong with the server.
        reason: String,
    },
    /// Two Socket.IO namespace types on one namespace of a server.
    #[error(
        "two Socket.IO namespaces `{path}` on server `{server}` (the second is `{controller}`)"
    )]
    DuplicateNamespace {
        /// The server.
        server: String,
        /// The namespace.
        path: String,
        /// The second type.
        controller: String,
    },
}

/// Why a controller's or component's field cannot be provided at boot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// Nothing provides the field's type.
    #[error(
        "`{owner}.{field}`: no provider for `Arc<{type_name}>`; mark `{short_name}` with #[component] or call App::provide"
    )]
    NoProvider {
        /// The struct holding the field.
        owner: String,
        /// The field.
        field: String,
        /// The full name of the type asked for.
        type_name: String,
        /// Its last path segment.
        short_name: String,
    },
    /// Building a singleton needs itself, through these types.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A singleton was registered under a type it does not have.
    #[error("singleton registered for `{0}` has another type")]
    WrongType(String),
    /// A `#[value]` field's config value has the wrong type.
    #[error("{field} reads `{key}`: {reason}")]
    BadValue {
        /// The field, as `` `Owner.field` ``.
        field: String,
        /// The config key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// A `#[value]` field reads a key the config does not define.
    #[error("{field} reads `{key}`, which {config} does not define")]
    MissingValue {
        /// The field, as `` `Owner.field` ``.
        field: String,
        /// The config key.
        key: String,
        /// The config file, or "the config".
        config: String,
    },
}

/// Why the cluster backplane named by `[cluster] url` could not start. Its `Display` is one line
/// naming the broker's URL (password masked) and the cause, printed after `cluster error:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The URL's scheme names a backplane this build was compiled without (see the crate's
    /// `redis` and `nats` features).
    #[error("backplane `{scheme}://` is not available in this build")]
    UnsupportedScheme {
        /// The scheme, e.g. `nats`.
        scheme: String,
    },
    /// The URL cannot be used by the broker's client.
    #[error("`{url}` is not a usable {broker} URL: {reason}")]
    BadUrl {
        /// `Redis` or `NATS`.
        broker: &'static str,
        /// The URL, password masked.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// The broker refused this node's credentials (a wrong or missing password, user or
    /// token). Retrying does not help until the credentials or the broker's users change, so
    /// it is logged at error level and `/ready` names it.
    #[error("{broker} at {url} refused this node's credentials: {reason}")]
    Denied {
        /// `Redis` or `NATS`.
        broker: &'static str,
        /// The URL, password masked.
        url: String,
        /// What the broker said.
        reason: String,
    },
    /// The TLS material of `[cluster]` is unusable, or the TLS handshake with the broker failed
    /// (an untrusted or mismatched certificate, a client certificate the broker refused, a
    /// broker that does not speak TLS).
    #[error("TLS with {broker} at {url}: {reason}")]
    Tls {
        /// `Redis` or `NATS`.
        broker: &'static str,
        /// The URL, password masked.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The broker could not be reached within the boot window (10 s).
    #[error("cannot reach {broker} at {url}: {reason}")]
    Unreachable {
        /// `Redis` or `NATS`.
        broker: &'static str,
        /// The URL, password masked.
        url: String,
        /// The last failure.
        reason: String,
    },
    /// The NATS key-value bucket that holds the node leases could not be opened.
    #[error(
        "cannot open the lease bucket `{bucket}` at {url} (is JetStream enabled, `nats-server -js`?): {reason}"
    )]
    LeaseStore {
        /// The bucket, `{prefix}_nodes`.
        bucket: String,
        /// The URL, password masked.
        url: String,
        /// The last failure.
        reason: String,
    },
    /// Claiming a node id failed for another reason than all of them being taken.
    #[error("claiming a node id at {url} failed: {reason}")]
    Claim {
        /// The URL, password masked.
        url: String,
        /// What the broker said.
        reason: String,
    },
    /// Every node id under this prefix is held by a live node.
    #[error("every node id of prefix `{prefix}` at {url} is taken")]
    NoFreeNodeId {
        /// The cluster prefix.
        prefix: String,
        /// The URL, password masked.
        url: String,
    },
    /// A subscription the node needs could not be made.
    #[error("cannot subscribe to `{subject}` at {url}: {reason}")]
    Subscribe {
        /// The channel or subject.
        subject: String,
        /// The URL, password masked.
        url: String,
        /// What the broker said.
        reason: String,
    },
    /// A node id was claimed, but subscribing and asserting its lease did not succeed within the
    /// boot window.
    #[error("claimed node {node} at {url} but could not subscribe in time: {reason}")]
    NotReady {
        /// The node id that was claimed; its lease is given back or expires.
        node: crate::NodeId,
        /// The URL, password masked.
        url: String,
        /// The last failure.
        reason: String,
    },
}
