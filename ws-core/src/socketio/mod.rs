//! Socket.IO (Engine.IO v4, Socket.IO v5) over the WebSocket transport, on a WebSocket server
//! whose `[servers.settings.socketio]` is enabled: Hyperf's `socketio-server`.
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
//! | `session.rs` | one connection's state, shared by its reader, heartbeat and handler task |
//! | `work.rs` | what the reader hands the handler task |
//! | `worker.rs` | the handler task: connects, events, acks, disconnects in order |
//! | `reason.rs` | `DisconnectReason` |
//! | `socket.rs` | `Socket`: one client in one namespace |
//! | `emit.rs` | `Operator`: emits to rooms across the cluster; `RemoteSocket` |
//! | `presence.rs` | presence metadata, `PresenceEvent`s and their stream |
//! | `namespace.rs` | what `#[socketio_events]` implements; the registration |
//! | `server.rs` | `SocketIo`: the injectable server handle |

pub(crate) mod emit;
pub(crate) mod engine;
pub(crate) mod namespace;
pub(crate) mod packet;
pub(crate) mod payload;
pub(crate) mod presence;
pub(crate) mod reason;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod socket;
pub(crate) mod work;
pub(crate) mod worker;

pub use emit::{EmitError, Operator, RemoteSocket};
pub use namespace::{NamespaceEvents, SocketIoNamespaceRegistration};
pub use packet::PacketError;
pub use payload::{FromPayload, IntoAck, IntoConnectResult, IntoPayload, Payload, PayloadError};
pub use presence::{PresenceEvent, PresenceEvents, PresenceKind};
pub use reason::DisconnectReason;
pub use server::SocketIo;
pub use socket::Socket;

/// The path the clients connect to.
pub const PATH: &str = "/socket.io/";
