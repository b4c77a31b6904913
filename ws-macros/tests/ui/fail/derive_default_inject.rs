use ws_core::prelude::*;

#[controller(server = "http", prefix = "/server")]
#[derive(Default)]
pub struct ServerController {
    #[inject]
    sender: Sender,
}

fn main() {}
