use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::client::{ForwardedHeader, TrustedProxy};
use super::{CompressionSettings, RecoverySettings};

/// `[servers.settings]`: the limits and options of one server, each with a production default.
///
/// | key | default | what it bounds |
/// |---|---|---|
/// | `max_message_size` | 1 MiB | a reassembled message; over it the connection closes with 1009 |
/// | `max_frame_size` | 1 MiB | one frame's payload; over it: 1009 |
/// | `max_connections` | 50,000 | open WebSocket connections; over it the handshake answers 503 |
/// | `handshake_timeout_ms` | 10,000 | time for the TLS handshake and the whole upgrade request (slowloris); over it: 408 |
/// | `max_header_bytes` | 16 KiB | the HTTP request head; over it: 431 |
/// | `ping_interval_ms` | 30,000 | connections are swept at this interval: one silent since the last sweep is pinged, and dropped (1006) if it is still silent at the next; `0` disables |
/// | `outbound_queue_bytes` | 1 MiB | bytes queued for one client that it has not read yet; a client that stops reading holds at most about twice this |
/// | `backpressure` | `reject` | what a push to a full queue does: `reject` fails it with `Backpressure`, `close` closes the connection with 1008 |
/// | `close_timeout_ms` | 3,000 | how long a closing handshake may take before the socket is dropped |
/// | `read_buffer_size` | 4 KiB | read buffer per connection |
/// | `write_buffer_size` | 16 KiB | bytes gathered before a socket write |
/// | `allowed_origins` | `[]` (any) | `Origin` values that may connect; others get 403 |
/// | `max_body_bytes` | 2 MiB | an HTTP request body (HTTP servers); over it: 413 |
/// | `max_connections_per_client` | 0 (off) | open connections from one client address; over it the handshake answers 503 with `Retry-After` (websocket servers) |
/// | `max_handshake_rate_per_client` | 0 (off) | upgrade attempts per second from one client address, malformed ones included (bursts of as many); over it: 429 with `Retry-After` (websocket servers) |
/// | `max_tracked_clients` | 100,000 | client addresses the two caps above remember; idle ones are forgotten first, and a new address finding the table full of busy ones gets 503 |
/// | `trusted_proxies` | `[]` | addresses or CIDR blocks (`"10.0.0.0/8"`) of proxies whose forwarding header names the client; from any other peer it is ignored |
/// | `forwarded_header` | `x-forwarded-for` | the header trusted proxies name the client in: `x-forwarded-for` or `forwarded` (RFC 7239) |
/// | `tls` | none | `{ cert = "cert.pem", key = "key.pem" }` serves `wss://` / `https://`; an unreadable or mismatched file fails the boot |
/// | `compression` | on | `[servers.settings.compression]`: permessage-deflate, see [`CompressionSettings`] |
/// | `socketio` | disabled | `[servers.settings.socketio]`: Socket.IO at `/socket.io/`, see [`SocketIoSettings`] |
///
/// Browsers send every message as a single frame, so a frame limit below the message limit would
/// refuse ordinary large messages from browsers; both default to 1 MiB.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Largest message accepted, in bytes.
    pub max_message_size: usize,
    /// Largest frame payload accepted, in bytes.
    pub max_frame_size: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// Time allowed for the upgrade request, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Largest HTTP request head, in bytes.
    pub max_header_bytes: usize,
    /// Heartbeat interval in milliseconds; `0` disables pings.
    pub ping_interval_ms: u64,
    /// Bytes that may wait for one slow client.
    pub outbound_queue_bytes: usize,
    /// What a push to a full outbound queue does.
    pub backpressure: BackpressurePolicy,
    /// Longest closing handshake, in milliseconds.
    pub close_timeout_ms: u64,
    /// Read buffer per connection, in bytes.
    pub read_buffer_size: usize,
    /// Bytes gathered before a socket write.
    pub write_buffer_size: usize,
    /// `Origin` header values allowed to connect; empty allows any.
    pub allowed_origins: Vec<String>,
    /// Largest HTTP request body, in bytes.
    pub max_body_bytes: usize,
    /// Most open connections from one client address; `0` disables the cap.
    pub max_connections_per_client: usize,
    /// Most upgrade attempts per second from one client address; `0` disables the cap.
    pub max_handshake_rate_per_client: u32,
    /// Most client addresses the per-client caps remember at once.
    pub max_tracked_clients: usize,
    /// Proxies whose forwarding header is believed.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// The header trusted proxies name the client in.
    pub forwarded_header: ForwardedHeader,
    /// TLS certificate and key, for `wss://` and `https://`.
    pub tls: Option<TlsSettings>,
    /// permessage-deflate (WebSocket servers).
    pub compression: CompressionSettings,
    /// Socket.IO on this WebSocket server.
    pub socketio: SocketIoSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            max_connections: 50_000,
            handshake_timeout_ms: 10_000,
            max_header_bytes: 16 * 1024,
            ping_interval_ms: 30_000,
            outbound_queue_bytes: 1 << 20,
            backpressure: BackpressurePolicy::Reject,
            close_timeout_ms: 3_000,
            // Measured: 4 KiB keeps small-message throughput at its peak while an idle
            // connection costs a few KiB instead of tungstenite's 128 KiB default.
            read_buffer_size: 4 * 1024,
            write_buffer_size: 16 * 1024,
            allowed_origins: Vec::new(),
            max_body_bytes: 2 << 20,
            max_connections_per_client: 0,
            max_handshake_rate_per_client: 0,
            max_tracked_clients: 100_000,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            tls: None,
            compression: CompressionSettings::default(),
            socketio: SocketIoSettings::default(),
        }
    }
}

impl ServerSettings {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("max_message_size", self.max_message_size),
            ("max_frame_size", self.max_frame_size),
            ("max_connections", self.max_connections),
            ("max_header_bytes", self.max_header_bytes),
            ("outbound_queue_bytes", self.outbound_queue_bytes),
            ("read_buffer_size", self.read_buffer_size),
            ("max_tracked_clients", self.max_tracked_clients),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((key, "must be greater than 0".into()));
            }
        }
        self.compression.validate()?;
        if self.socketio.enabled {
            let socketio = [
                (
                    "socketio.ping_interval_ms",
                    self.socketio.ping_interval_ms as usize,
                ),
                (
                    "socketio.ping_timeout_ms",
                    self.socketio.ping_timeout_ms as usize,
                ),
                ("socketio.max_payload", self.socketio.max_payload),
                (
                    "socketio.ack_timeout_ms",
                    self.socketio.ack_timeout_ms as usize,
                ),
            ];
            if self.socketio.transports.is_empty() {
                return Err((
                    "socketio.transports",
                    "must name at least one of \"polling\", \"websocket\"".into(),
                ));
            }
            for (key, value) in socketio {
                if value == 0 {
                    return Err((key, "must be greater than 0".into()));
                }
            }
            self.socketio.recovery.validate()?;
        }
        if self.handshake_timeout_ms == 0 {
            return Err(("handshake_timeout_ms", "must be greater than 0".into()));
        }
        if self.max_frame_size > self.max_message_size {
            return Err((
                "max_frame_size",
                format!(
                    "{} is larger than max_message_size ({})",
                    self.max_frame_size, self.max_message_size
                ),
            ));
        }
        Ok(())
    }

    /// Whether either per-client cap is on.
    pub(crate) fn caps_clients(&self) -> bool {
        self.max_connections_per_client > 0 || self.max_handshake_rate_per_client > 0
    }

    /// The bounds of the frame decoder.
    pub(crate) fn limits(&self) -> crate::ws::codec::Limits {
        crate::ws::codec::Limits {
            max_frame: self.max_frame_size,
            max_message: self.max_message_size,
            read_size: self.read_buffer_size,
        }
    }
}

/// What a push to a client whose outbound queue is full does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackpressurePolicy {
    /// The push fails with [`SendError::Backpressure`](crate::SendError::Backpressure); the
    /// connection stays.
    Reject,
    /// The connection is closed with 1008 (policy violation).
    Close,
}

/// `tls = { cert = "...", key = "..." }`: PEM files; a relative path is relative to the folder of
/// the `server.toml` that names it (the working directory for a config parsed from a string).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[servers.settings.socketio]`: Socket.IO (Engine.IO v4, Socket.IO v5; HTTP long-polling and
/// WebSocket transports) at `/socket.io/` on a WebSocket server. The defaults are Socket.IO's own.
///
/// | key | default | what it does |
/// |---|---|---|
/// | `enabled` | `false` | serves `/socket.io/` and the `#[socketio_namespace]`s of this server |
/// | `ping_interval_ms` | 25,000 | the server pings each client this often |
/// | `ping_timeout_ms` | 20,000 | a client that has not answered a ping within it is dropped (`ping timeout`) |
/// | `max_payload` | 1,000,000 | largest message, in bytes; over it the session closes (1009) |
/// | `ack_timeout_ms` | 10,000 | how long `emit_with_ack` waits for the client's answer |
/// | `transports` | `["polling", "websocket"]` | the transports clients may use; polling sessions are offered the upgrade to WebSocket when both are on |
/// | `cors_origins` | `[]` | origins whose pages may poll cross-origin (`"*"`: any), answered with `Access-Control-Allow-Origin` and credentials; a request from another origin is refused (403). Empty: no CORS headers, no origin check |
/// | `recovery` | off | `[servers.settings.socketio.recovery]`: connection state recovery, see [`RecoverySettings`] |
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketIoSettings {
    /// Whether the server speaks Socket.IO at `/socket.io/`.
    pub enabled: bool,
    /// Heartbeat interval, in milliseconds (the open packet's `pingInterval`).
    pub ping_interval_ms: u64,
    /// Time allowed for a pong, in milliseconds (`pingTimeout`).
    pub ping_timeout_ms: u64,
    /// Largest message, in bytes (`maxPayload`).
    pub max_payload: usize,
    /// Default timeout of `emit_with_ack`, in milliseconds.
    pub ack_timeout_ms: u64,
    /// The transports clients may use.
    pub transports: Vec<SocketIoTransport>,
    /// Origins allowed to poll cross-origin; `"*"` allows any.
    pub cors_origins: Vec<String>,
    /// Connection state recovery.
    pub recovery: RecoverySettings,
}

/// An Engine.IO transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketIoTransport {
    /// HTTP long-polling: works wherever HTTP does, and is what a default client starts with.
    Polling,
    /// WebSocket, directly or as the upgrade of a polling session.
    Websocket,
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            ack_timeout_ms: 10_000,
            transports: vec![SocketIoTransport::Polling, SocketIoTransport::Websocket],
            cors_origins: Vec::new(),
            recovery: RecoverySettings::default(),
        }
    }
}
