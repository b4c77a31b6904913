//! The Hyperf WebSocket guide's example app, in Rust.
//!
//! WS server `ws` (9502): `/` answers `Recv: <msg>` after pushing `Opened`; `/context` answers
//! `Username: <cookie>`; `/echo` echoes; `/room?name=NAME` joins a room. HTTP server `http`
//! (9501): `/server/send`, `/server/close`, `/server/connections`, `/server/room`,
//! `/server/broadcast`.

pub mod controller;

use ws_core::App;
use ws_core::http::Method;

use controller::{
    context::ContextController, echo::EchoController, room::RoomController, server,
    websocket::WebSocketController,
};

/// Registers the seed's routes (Hyperf's `config/routes.php`).
pub fn routes(app: &mut App) {
    app.router("ws")
        .ws("/", WebSocketController)
        .ws("/context", ContextController)
        .ws("/echo", EchoController)
        .ws("/room", RoomController);
    let any = [Method::GET, Method::POST, Method::HEAD];
    app.router("http")
        .route(&any, "/server/send", server::send)
        .route(&any, "/server/close", server::close)
        .get("/server/connections", server::connections)
        .route(&any, "/server/room", server::room)
        .route(&any, "/server/broadcast", server::broadcast);
}
