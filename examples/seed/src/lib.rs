//! The Hyperf WebSocket guide's example app, in Rust, in annotation mode.
//!
//! WS server `ws` (9502): `/` answers `Recv: <msg>` after pushing `Opened`; `/context` answers
//! `Username: <cookie>`; `/echo` echoes; `/room?name=NAME` joins a room. HTTP server `http`
//! (9501): `/server/send`, `/server/close`, `/server/connections`, `/server/room`,
//! `/server/broadcast`. Socket.IO on the ws server, namespace `/`: events `event`, `echo`,
//! `join-room`, `say`, `track` (see [`controller::socketio`]), with connection state recovery
//! (`config/server.toml`): a client that loses its transport gets back its rooms and the room
//! messages it missed, on any node. `/socketio/presence?room=` lists a room across the cluster.
//! Every controller registers itself with its macro; [`routes`] adds the one route declared in
//! code (config mode), showing that both modes mix.

pub mod controller;

use ws_core::App;
use ws_core::http::HttpRequest;

/// The routes declared in code (Hyperf's `config/routes.php`); the controllers register
/// themselves. Calling it also links this crate's controllers into the binary that calls it.
pub fn routes(app: &mut App) {
    app.router("http").get("/", |_req: HttpRequest| async {
        "ws seed example: WebSocket routes /, /context, /echo, /room on the ws server; \
         HTTP routes under /server on this one. `cargo run -- routes` lists them.\n"
    });
}
