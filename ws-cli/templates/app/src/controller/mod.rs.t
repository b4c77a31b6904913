//! The app's controllers; `ws-cli gen:controller NAME` adds one here.

pub mod server;
pub mod websocket;
