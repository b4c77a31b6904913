use ws_core::prelude::*;

#[controller]
pub struct ServerController;

#[auto_routes]
impl ServerController {
    pub async fn send<T: std::str::FromStr>(&self, value: String) -> &'static str {
        let _ = value.parse::<T>();
        ""
    }
}

fn main() {}
