use ws_core::prelude::*;

#[socketio_namespace(server = "ws")]
#[derive(Default)]
pub struct Chat;

fn main() {}
