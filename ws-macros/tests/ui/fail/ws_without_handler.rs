use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/")]
pub struct Chat;

fn main() {}
