//! The WebSocket side, one concept a file.
//!
//! | file | what it holds |
//! |---|---|
//! | [`handler`] | `WebSocketHandler`: what a controller does on open, message, close |
//! | [`request`] | `Request`: the upgrade request a connection was opened with |
//! | [`handshake`] | reading and answering the HTTP/1.1 upgrade; `Handshake`, `Rejection` |
//! | [`extension`] | `Sec-WebSocket-Extensions`: the permessage-deflate negotiation |
//! | [`endpoint`] | `WsRoute`: a controller with its type erased, spawning connection tasks |
//! | [`slot`] | a server's open connections: limit, settings, what their tasks report to |
//! | [`client_caps`] | per-client caps: open connections and handshakes per second of one client address |
//! | [`plain`] | a plain HTTP request on a route that answers them (Socket.IO's long-polling) |
//! | [`bare`] | connections without a socket of their own, drained by whatever carries them |
//! | [`session`] | a connection's task — `on_open`, the message loop, `on_close` — where a frame is read and queued pushes are written |
//! | [`dispatch`] | what a handler's error or panic does to its connection (log, count, 1011) |
//! | [`closing`] | the three closing handshakes and how a session ends |
//! | [`connection`] | `Connection`: the handle handlers get |
//! | [`outbox`] | a connection's bounded outbound queue: where a push is delivered |
//! | [`reply`] | the lossless reply path: a handler's push to its own connection waits for room |
//! | [`liveness`] | whether a client was heard from, between heartbeat sweeps |
//! | [`heartbeat`] | the per-server sweep that pings quiet clients and drops silent ones |
//! | [`context`] | the per-connection typed key/value store |
//! | [`message`] | messages and close information |
//! | [`transport`] | the byte stream under a connection: TCP or TLS |
//! | [`codec`] | RFC 6455 framing: decoder and encoder |

pub(crate) mod bare;
pub(crate) mod client_caps;
pub(crate) mod closing;
pub(crate) mod codec;
pub(crate) mod connection;
pub(crate) mod context;
pub(crate) mod dispatch;
pub(crate) mod endpoint;
pub(crate) mod extension;
pub(crate) mod handler;
pub(crate) mod handshake;
pub(crate) mod heartbeat;
pub(crate) mod liveness;
pub(crate) mod message;
pub(crate) mod outbox;
pub(crate) mod plain;
pub(crate) mod rejection;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod session;
pub(crate) mod slot;
pub(crate) mod transport;

pub use connection::Connection;
pub use context::Context;
pub use endpoint::WsRoute;
pub use handler::WebSocketHandler;
pub use handshake::{Handshake, Rejection};
pub use message::{Bytes, CloseCode, CloseFrame, CloseInfo, CloseInitiator, Message, Utf8Bytes};
pub use request::{Request, RequestBuilder};
