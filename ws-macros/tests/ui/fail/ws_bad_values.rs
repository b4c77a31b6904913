use ws_core::prelude::*;

#[ws_controller(server = "", path = "chat", protocols = ["chat v1", "chat.v2", "chat.v2"])]
pub struct Chat;

impl WebSocketHandler for Chat {}

#[ws_controller(server = "ws", path = "/room/{id")]
pub struct Room;

impl WebSocketHandler for Room {}

#[ws_controller("ws", "/")]
pub struct Positional;

impl WebSocketHandler for Positional {}

fn main() {}
