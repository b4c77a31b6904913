use ws_core::prelude::*;

pub struct Point {
    pub x: u32,
}

#[controller]
pub struct MapController;

#[auto_routes]
impl MapController {
    pub async fn at(&self, point: Point) -> String {
        point.x.to_string()
    }
}

fn main() {}
