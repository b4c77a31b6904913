use std::cell::Cell;

use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/")]
pub struct Counter {
    count: Cell<u64>,
}

impl WebSocketHandler for Counter {}

fn main() {}
