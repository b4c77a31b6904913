use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/", compression = "off")]
pub struct Uploads;

impl WebSocketHandler for Uploads {}

fn main() {}
