use ws_core::prelude::*;

pub struct ServerController;

#[auto_routes]
impl ServerController {
    pub async fn send(&self) {}

    pub async fn close(&self) {}
}

fn main() {}
