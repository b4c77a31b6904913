//! `#[socketio_namespace]` with `#[socketio_events]`: events with and without payloads, raw
//! payloads, acks, `on_connect` and `on_disconnect`, an injected server handle.

use ws_core::prelude::*;
use ws_core::socketio::DisconnectReason;

#[socketio_namespace(server = "ws", path = "/chat")]
pub struct Chat {
    #[inject]
    io: SocketIo,
}

#[socketio_events]
impl Chat {
    #[event("event")]
    async fn event(&self, _socket: &Socket, data: String) -> String {
        format!("Event Received: {data}")
    }

    #[event("echo")]
    async fn echo(&self, _socket: &Socket, payload: Payload) -> Payload {
        payload
    }

    #[event("ping")]
    async fn ping(&self, socket: &Socket) {
        let _ = self.io.to("room").emit("pong", socket.id()).await;
    }

    async fn on_connect(&self, _socket: &Socket, token: Option<String>) -> Result<(), String> {
        token.map(drop).ok_or_else(|| "a token, please".to_string())
    }

    async fn on_disconnect(&self, _socket: &Socket, _reason: DisconnectReason) {}

    fn plain_helper(&self) -> u32 {
        1
    }
}

fn main() {}
