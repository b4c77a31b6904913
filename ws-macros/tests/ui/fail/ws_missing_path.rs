use ws_core::prelude::*;

#[ws_controller(server = "ws")]
pub struct Chat;

impl WebSocketHandler for Chat {}

#[ws_controller]
pub struct Bare;

impl WebSocketHandler for Bare {}

fn main() {}
