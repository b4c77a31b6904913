use ws_core::prelude::*;

#[socketio_namespace(sever = "ws", path = "chat")]
#[derive(Default)]
pub struct Chat;

#[socketio_namespace(server = "the ws")]
#[derive(Default)]
pub struct Lobby;

fn main() {}
