//! The chat's controllers: the WebSocket endpoint, its HTTP API, and the page.

pub(crate) mod api;
pub(crate) mod chat;
pub(crate) mod page;
