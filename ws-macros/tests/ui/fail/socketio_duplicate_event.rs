use ws_core::prelude::*;

#[socketio_namespace(server = "ws")]
#[derive(Default)]
pub struct Chat;

#[socketio_events]
impl Chat {
    #[event("say")]
    async fn say(&self, _socket: &Socket, _data: String) {}

    #[event("say")]
    async fn say_again(&self, _socket: &Socket, _data: String) {}
}

fn main() {}
