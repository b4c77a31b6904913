//! A browser chat served by the app itself, in macro mode.
//!
//! `http` serves the page (`/`, `/static/*`, compiled into the binary), `GET /chat/config` (where
//! the page connects) and `POST /chat/system?room=R&text=T` (a system message to a room, through
//! [`ws_core::Sender`]). `ws` serves `/chat`: the nickname comes from the `nickname` cookie and
//! is kept in the connection context; clients join and leave rooms, everyone in a room sees join
//! and leave notices, and whoever joins gets the room's last `[app] history` messages. The page
//! reconnects with exponential backoff and jitter, and rejoins its rooms.
//!
//! The protocol is JSON both ways; see [`protocol`].

mod controller;
mod history;
mod protocol;

#[ws_core::main]
async fn main() {}
