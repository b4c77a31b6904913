use ws_core::prelude::*;

pub struct Point {
    pub x: u32,
}

#[socketio_namespace(server = "ws")]
#[derive(Default)]
pub struct Map;

#[socketio_events]
impl Map {
    #[event("at")]
    async fn at(&self, _socket: &Socket, point: Point) -> u32 {
        point.x
    }
}

fn main() {}
