use ws_core::prelude::*;

#[controller]
pub struct ServerController;

#[auto_routes]
impl ServerController {
    pub async fn pair(&self, (a, b): (u32, u32)) -> String {
        format!("{a} {b}")
    }

    pub async fn borrowed(&self, name: &str, _: u32, any: impl ToString) -> String {
        format!("{name} {}", any.to_string())
    }
}

fn main() {}
