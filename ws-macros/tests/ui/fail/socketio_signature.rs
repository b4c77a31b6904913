use ws_core::prelude::*;

#[socketio_namespace(server = "ws")]
#[derive(Default)]
pub struct Chat;

#[socketio_events]
impl Chat {
    #[event("not-async")]
    fn not_async(&self, _socket: &Socket) {}

    #[event("no-socket")]
    async fn no_socket(&self) {}

    #[event("too-many")]
    async fn too_many(&self, _socket: &Socket, _a: String, _b: String) {}

    #[event("by-value")]
    async fn by_value(self, _socket: &Socket) {}

    #[event]
    async fn unnamed(&self, _socket: &Socket) {}
}

fn main() {}
