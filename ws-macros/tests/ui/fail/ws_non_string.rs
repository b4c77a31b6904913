use ws_core::prelude::*;

#[ws_controller(server = ws, path = 1, protocols = "chat")]
pub struct Chat;

impl WebSocketHandler for Chat {}

#[ws_controller(server = "ws", path = "/", protocols = ["chat.v1", 2])]
pub struct Other;

impl WebSocketHandler for Other {}

fn main() {}
