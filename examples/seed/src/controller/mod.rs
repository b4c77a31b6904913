//! The seed guide's controllers.

pub mod context;
pub mod echo;
pub mod presence;
pub mod room;
pub mod server;
pub mod socketio;
pub mod websocket;
