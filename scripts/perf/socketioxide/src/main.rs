//! socketioxide answering the events of the seed example's Socket.IO namespace `/`, as the
//! reference of `ws-cli perf --only sio-ack,sio-room`: `echo` acknowledges with its argument,
//! `join-room` joins a room (telling its members, and the joiner how many they are), `say` tells
//! a room's other members `<sid> say: <message>`.
//!
//! Usage: socketioxide-perf-reference PORT

use std::net::SocketAddr;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use tokio::net::TcpListener;

/// socketioxide drops what does not fit a socket's buffer (128 packets by default); a room of
/// 1,000 members under a sender that does not wait falls behind by more than that.
const SOCKET_BUFFER: usize = 1 << 16;

#[derive(Debug, Deserialize)]
struct Say {
    room: String,
    message: String,
}

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |ack: AckSender, Data(data): Data<Value>| {
        let _ = ack.send(&data);
    });
    socket.on(
        "join-room",
        async |socket: SocketRef, Data(room): Data<String>| {
            socket.join(room.clone());
            let joined = format!("{} has joined {room}", socket.id);
            let _ = socket.to(room.clone()).emit("event", &joined).await;
            let players = socket.within(room.clone()).sockets().len();
            let _ = socket.emit("event", &format!("There are {players} players in {room}"));
        },
    );
    socket.on("say", async |socket: SocketRef, Data(say): Data<Say>| {
        let text = format!("{} say: {}", socket.id, say.message);
        let _ = socket.to(say.room).emit("event", &text).await;
    });
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or("usage: socketioxide-perf-reference PORT")?
        .parse()?;
    let (service, io) = SocketIo::builder()
        .max_buffer_size(SOCKET_BUFFER)
        .build_svc();
    io.ns("/", on_connect);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
