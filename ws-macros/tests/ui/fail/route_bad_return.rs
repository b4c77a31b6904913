use ws_core::prelude::*;

#[controller]
pub struct CountController;

#[auto_routes]
impl CountController {
    pub async fn count(&self) -> u32 {
        1
    }
}

fn main() {}
