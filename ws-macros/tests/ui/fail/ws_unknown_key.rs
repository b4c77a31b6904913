use ws_core::prelude::*;

#[ws_controller(server = "ws", paht = "/")]
pub struct Chat;

impl WebSocketHandler for Chat {}

fn main() {}
