use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/")]
pub enum Chat {
    A,
}

fn main() {}
