use ws_core::prelude::*;

#[controller(prefix = "server", server = "http", path = "/x")]
pub struct ServerController;

fn main() {}
