use std::sync::Arc;

use ws_core::prelude::*;

#[controller]
pub struct ServerController;

#[auto_routes]
impl ServerController {
    pub async fn by_value(self) {}

    pub async fn by_mut(&mut self) {}

    pub async fn no_receiver(fd: Fd) -> String {
        fd.to_string()
    }

    pub async fn arc(self: Arc<Self>) {}
}

fn main() {}
