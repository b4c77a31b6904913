use ws_core::prelude::*;

fn cors() {}

#[ws_controller(server = "ws", path = "/", layer = cors)]
pub struct Chat;

impl WebSocketHandler for Chat {}

fn main() {}
