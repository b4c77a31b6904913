use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/", path = "/chat")]
pub struct Chat;

impl WebSocketHandler for Chat {}

fn main() {}
