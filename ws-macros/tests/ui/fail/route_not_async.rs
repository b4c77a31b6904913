use ws_core::prelude::*;

#[controller]
pub struct ServerController;

#[auto_routes]
impl ServerController {
    pub fn send(&self) -> &'static str {
        ""
    }
}

#[controller]
pub struct UserController;

#[routes]
impl UserController {
    #[get("/")]
    fn index(&self) -> &'static str {
        ""
    }
}

fn main() {}
