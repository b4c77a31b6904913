//! Socket.IO (Engine.IO v4, Socket.IO v5) over HTTP long-polling and WebSocket, on a WebSocket
//! server whose `[servers.settings.socketio]` is enabled: Hyperf's `socketio-server`.
//!
//! Namespaces are structs with `#[socketio_namespace]` and an impl with `#[socketio_events]`;
//! rooms and cluster-wide emits use the registry's rooms and the cluster backplane.
//!
//! ```no_run
//! use ws_core::prelude::*;
//! use ws_core::socketio::{DisconnectReason, Socket};
//!
//! #[socketio_namespace(server = "ws", path = "/")]
//! #[derive(Default)]
//! pub struct Chat;
//!
//! #[socketio_events]
//! impl Chat {
//!     #[event("event")]
//!     async fn event(&self, _socket: &Socket, data: String) -> String {
//!         format!("Event Received: {data}")
//!     }
//!
//!     async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
//!         tracing::info!(id = socket.id(), %reason, "left");
//!     }
//! }
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `packet.rs` | the Engine.IO and Socket.IO packet codec |
//! | `payload.rs` | `Payload`, and the serde bridges of handlers' payloads and acks |
//! | `engine.rs` | the session on one connection: open, heartbeat, reading packets |
//! | `polling.rs` | the HTTP long-polling transport: open, GET, POST |
//! | `poll_wire.rs` | the polling payload: packets joined by `\x1e`, binary as `b<base64>` |
//! | `poll_session.rs` | a polling session: its bare connection, its transports, its sid |
//! | `upgrade.rs` | a polling session's upgrade to WebSocket: probe, `5`, forwarding |
//! | `cors.rs` | CORS of cross-origin polling (`cors_origins`) |
//! | `session.rs` | one connection's state, shared by its reader, heartbeat and handler task |
//! | `work.rs` | what the reader hands the handler task |
//! | `worker.rs` | the handler task: connects, events, acks, disconnects in order |
//! | `reason.rs` | `DisconnectReason` |
//! | `identity.rs` | a socket's id and its session's private id |
//! | `socket.rs` | `Socket`: one client in one namespace |
//! | `socket_session.rs` | a socket's session in the recovery store, written through |
//! | `frames.rs` | the frames of the events and acknowledgements the server sends |
//! | `emit.rs` | `Operator`: emits to rooms across the cluster; `RemoteSocket` |
//! | `presence.rs` | presence metadata, `PresenceEvent`s and their stream |
//! | `recovery/` | connection state recovery: sessions and missed packets in the store |
//! | `namespace.rs` | what `#[socketio_events]` implements; the registration |
//! | `server.rs` | `SocketIo`: the injectable server handle |

pub(crate) mod cors;
pub(crate) mod emit;
pub(crate) mod engine;
pub(crate) mod frames;
pub(crate) mod identity;
pub(crate) mod namespace;
pub(crate) mod packet;
pub(crate) mod payload;
pub(crate) mod poll_session;
pub(crate) mod poll_wire;
pub(crate) mod polling;
pub(crate) mod presence;
pub(crate) mod reason;
pub(crate) mod recovery;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod socket;
pub(crate) mod socket_session;
pub(crate) mod upgrade;
pub(crate) mod work;
pub(crate) mod worker;

pub use emit::{EmitError, Operator, RemoteSocket};
pub use namespace::{NamespaceEvents, SocketIoNamespaceRegistration};
pub use packet::PacketError;
pub use payload::{FromPayload, IntoAck, IntoConnectResult, IntoPayload, Payload, PayloadError};
pub use presence::{PresenceEvent, PresenceEvents, PresenceKind};
pub use reason::DisconnectReason;
pub use recovery::StoreError;
pub use server::SocketIo;
pub use socket::Socket;

/// The path the clients connect to.
pub const PATH: &str = "/socket.io/";
