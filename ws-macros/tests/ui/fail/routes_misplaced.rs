use ws_core::prelude::*;

#[controller]
pub struct ServerController;

#[auto_routes]
impl ServerController {
    #[get("/send")]
    pub async fn send(&self) {}
}

#[routes]
impl ServerController {
    async fn nothing(&self) {}
}

#[auto_routes]
pub struct NotAnImpl;

#[routes]
impl Clone for ServerController {
    fn clone(&self) -> Self {
        ServerController
    }
}

fn main() {}
