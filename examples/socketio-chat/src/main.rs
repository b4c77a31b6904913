//! A browser chat over Socket.IO, served by the app itself, in macro mode.
//!
//! `http` serves the page (`/`, `/static/*`, compiled into the binary), the official
//! `socket.io-client` browser bundle (`/static/vendor/socket.io.min.js`, vendored from npm, no
//! CDN) and `GET /chat/config` (where the page connects). `ws` serves Socket.IO namespace `/`:
//! the nickname comes in the CONNECT `auth` and a missing one is refused with `connect_error`;
//! a socket joins one room at a time, the room hears joins and leaves, and every message is
//! acknowledged, so the author's page marks it delivered. The leave notice of a closed page is
//! sent by `on_disconnect`, from the nickname kept in the socket's data.
//!
//! The events and their data: see [`protocol`].

mod controller;
mod protocol;

#[ws_core::main]
async fn main() {}
