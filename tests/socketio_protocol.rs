//! The Socket.IO protocol at the frame level, with a raw WebSocket client over TCP: the
//! heartbeat that drops a silent client, malformed packets, lying attachment counts and
//! oversized payloads, binary events and acks both ways, `connect_error`, server-to-client acks
//! awaited inside a handler, and their timeout; per-socket data still there in `on_disconnect`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use ws_core::prelude::*;
use ws_core::socketio::{DisconnectReason, EmitError};
use ws_core::testing::{TestClient, TestServer};

const CONFIG: &str = r#"
[[servers]]
name = "sio"
type = "websocket"
host = "127.0.0.1"
port = 0

[servers.settings]
# Clients left open at the end of a test do not answer shutdown's close frame; don't wait long.
close_timeout_ms = 200

[servers.settings.socketio]
enabled = true
ping_interval_ms = 300
ping_timeout_ms = 300
max_payload = 4096
ack_timeout_ms = 2000
"#;

/// The namespace under test.
#[socketio_namespace(server = "sio", path = "/")]
#[derive(Default)]
pub struct Probe;

#[derive(Debug, Deserialize)]
pub struct Join {
    pub room: String,
}

#[socketio_events]
impl Probe {
    #[event("echo")]
    async fn echo(&self, _socket: &Socket, payload: Payload) -> Payload {
        payload
    }

    #[event("join")]
    async fn join(&self, socket: &Socket, data: Join) -> String {
        socket.join(&data.room).await.ok();
        format!("joined {}", data.room)
    }

    /// Asks the client, from inside the handler, and acks with its answer.
    #[event("ask")]
    async fn ask(&self, socket: &Socket, timeout_ms: u64) -> String {
        let question = Payload::new(vec![serde_json::json!("ready?")])
            .with_binary(ws_core::Bytes::from_static(&[1, 2, 3]));
        match socket
            .emit_with_ack_timeout("question", question, Duration::from_millis(timeout_ms))
            .await
        {
            Ok(answer) => format!(
                "answer {} with {} bytes",
                answer.args()[0],
                answer.attachments().first().map_or(0, |b| b.len())
            ),
            Err(EmitError::AckTimeout) => "timeout".into(),
            Err(other) => format!("error {other}"),
        }
    }
}

/// Rooms, broadcasts, per-socket data and the server's own disconnect.
#[socketio_namespace(server = "sio", path = "/rooms")]
#[derive(Default)]
pub struct Rooms;

#[socketio_events]
impl Rooms {
    #[event("mute")]
    async fn mute(&self, socket: &Socket) -> Vec<String> {
        socket.join("muted").await.ok();
        socket.join("other").await.ok();
        socket.leave("other").await.ok();
        socket.rooms()
    }

    #[event("shout")]
    async fn shout(&self, socket: &Socket, text: String) {
        socket.data().set("said", text.clone());
        socket.except("muted").emit("shout", text).await.ok();
    }

    #[event("said")]
    async fn said(&self, socket: &Socket) -> Option<String> {
        socket.data().get::<String>("said")
    }

    #[event("leave-me")]
    async fn leave_me(&self, socket: &Socket) {
        socket.disconnect().await.ok();
    }
}

/// A namespace that wants a token.
#[socketio_namespace(server = "sio", path = "/private")]
#[derive(Default)]
pub struct Private;

#[derive(Debug, Deserialize)]
pub struct Auth {
    pub token: String,
}

#[socketio_events]
impl Private {
    async fn on_connect(&self, _socket: &Socket, auth: Option<Auth>) -> Result<(), String> {
        match auth {
            Some(auth) if auth.token == "secret" => Ok(()),
            _ => Err("bad token".into()),
        }
    }
}

/// Says goodbye by the name kept in the socket's data: `on_disconnect` must still read it.
#[socketio_namespace(server = "sio", path = "/farewell")]
#[derive(Default)]
pub struct Farewell;

#[socketio_events]
impl Farewell {
    #[event("watch")]
    async fn watch(&self, socket: &Socket) {
        socket.join("watchers").await.ok();
    }

    #[event("name")]
    async fn name(&self, socket: &Socket, name: String) {
        socket.data().set("name", name);
    }

    async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let name = socket.data().get::<String>("name");
        let goodbye = format!("{} ({reason})", name.as_deref().unwrap_or("<data gone>"));
        socket.to("watchers").emit("left", goodbye).await.ok();
    }
}

async fn server() -> TestServer {
    TestServer::start(App::new(), CONFIG).await.expect("boots")
}

/// Opens an Engine.IO session and checks the open packet.
async fn open(server: &TestServer) -> TestClient {
    let url = server.ws_url("sio", "/socket.io/?EIO=4&transport=websocket");
    let mut client = TestClient::connect(&url).await;
    let open = text(&mut client).await;
    let body: serde_json::Value = serde_json::from_str(&open[1..]).expect("open JSON");
    assert!(open.starts_with('0'), "{open}");
    assert_eq!(body["pingInterval"], 300);
    assert_eq!(body["pingTimeout"], 300);
    assert_eq!(body["maxPayload"], 4096);
    assert!(body["sid"].is_string());
    client
}

/// Opens a session and connects to `/`.
async fn connected(server: &TestServer) -> TestClient {
    let mut client = open(server).await;
    client.send("40").await;
    let connect = text(&mut client).await;
    assert!(connect.starts_with("40{\"sid\":"), "{connect}");
    client
}

/// The next text frame that is not a ping (answered, so the session stays up).
async fn text(client: &mut TestClient) -> String {
    loop {
        match client.recv().await {
            Some(Message::Text(text)) if text.as_str() == "2" => client.send("3").await,
            Some(Message::Text(text)) => return text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn binary(client: &mut TestClient) -> Vec<u8> {
    match client.recv().await {
        Some(Message::Binary(data)) => data.to_vec(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// Whether the server ended the connection within `within`.
async fn closed_within(client: &mut TestClient, within: Duration) -> bool {
    use futures_util::StreamExt;
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, client.stream().next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_dropped_and_a_ponging_one_is_not() {
    let server = server().await;
    let mut silent = connected(&server).await;
    let mut lively = connected(&server).await;
    let started = Instant::now();
    let answer = tokio::spawn(async move {
        // Answers pings for 1.2 s (four intervals), then proves it is still served.
        while started.elapsed() < Duration::from_millis(1200) {
            match tokio::time::timeout(Duration::from_millis(100), lively.recv()).await {
                Ok(Some(Message::Text(t))) if t.as_str() == "2" => lively.send("3").await,
                Ok(None) => panic!("a client that answers pings was dropped"),
                _ => {}
            }
        }
        lively.send(r#"421["echo","still here"]"#).await;
        assert_eq!(text(&mut lively).await, r#"431["still here"]"#);
    });
    // Dropped after ping_interval + ping_timeout (600 ms), well before 2 s.
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await);
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "dropped too early"
    );
    answer.await.expect("the lively client");
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_packets_close_the_session_and_the_server_goes_on() {
    let server = server().await;
    let too_big = format!("42[\"echo\",\"{}\"]", "x".repeat(5000));
    let cases: Vec<Vec<Message>> = vec![
        vec![Message::text("9")],
        vec![Message::text("4garbage")],
        vec![Message::text("42{\"not\":\"an array\"}")],
        // Announces one attachment, has no placeholder.
        vec![Message::text("451-[\"echo\"]")],
        // Announces two, has one placeholder: the count lies.
        vec![Message::text(
            "452-[\"echo\",{\"_placeholder\":true,\"num\":0}]",
        )],
        // A binary frame nobody announced.
        vec![Message::binary(vec![1u8, 2, 3])],
        // A text packet while an attachment is still due.
        vec![
            Message::text("451-[\"echo\",{\"_placeholder\":true,\"num\":0}]"),
            Message::text("42[\"echo\"]"),
        ],
        vec![Message::text(too_big)],
    ];
    for frames in cases {
        let mut client = connected(&server).await;
        let shown = format!("{frames:?}");
        for frame in frames {
            client.send(frame).await;
        }
        assert!(
            closed_within(&mut client, Duration::from_secs(3)).await,
            "{shown} did not close the session"
        );
    }
    let mut fine = connected(&server).await;
    fine.send(r#"423["echo","after all that"]"#).await;
    assert_eq!(text(&mut fine).await, r#"433["after all that"]"#);
    server.shutdown().await;
}

#[tokio::test]
async fn binary_events_and_acks_both_ways() {
    let server = server().await;
    let mut client = connected(&server).await;
    // Client to server: a binary event, answered with a binary ack.
    client
        .send(r#"451-5["echo","file",{"_placeholder":true,"num":0}]"#)
        .await;
    client.send(Message::binary(vec![9u8, 8, 7])).await;
    assert_eq!(
        text(&mut client).await,
        r#"461-5["file",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(binary(&mut client).await, [9, 8, 7]);

    // Server to client, awaited inside the handler: a binary event, answered with a binary ack.
    client.send(r#"426["ask",2000]"#).await;
    assert_eq!(
        text(&mut client).await,
        r#"451-0["question","ready?",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(binary(&mut client).await, [1, 2, 3]);
    client
        .send(r#"461-0["yes",{"_placeholder":true,"num":0}]"#)
        .await;
    client.send(Message::binary(vec![0u8; 10])).await;
    assert_eq!(
        text(&mut client).await,
        r#"436["answer \"yes\" with 10 bytes"]"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_server_ack_times_out_and_a_bad_payload_names_its_field() {
    let server = server().await;
    let mut client = connected(&server).await;
    client.send(r#"427["ask",200]"#).await;
    let question = text(&mut client).await;
    assert!(question.starts_with("451-"), "{question}");
    binary(&mut client).await;
    // Never answered: the handler's emit times out and it acks with that.
    assert_eq!(text(&mut client).await, r#"437["timeout"]"#);

    client.send(r#"428["join",{"room":7}]"#).await;
    let error = text(&mut client).await;
    assert!(
        error.starts_with(r#"438[{"error":"invalid payload at `room`"#),
        "{error}"
    );
    // The session stays up.
    client.send(r#"429["join",{"room":"r"}]"#).await;
    assert_eq!(text(&mut client).await, r#"439["joined r"]"#);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_namespaces_get_connect_error() {
    let server = server().await;
    let mut client = open(&server).await;
    client.send("40/nowhere,").await;
    assert_eq!(
        text(&mut client).await,
        r#"44/nowhere,{"message":"Invalid namespace"}"#
    );
    client.send(r#"40/private,{"token":"wrong"}"#).await;
    assert_eq!(
        text(&mut client).await,
        r#"44/private,{"message":"bad token"}"#
    );
    client.send(r#"40/private,{"token":"secret"}"#).await;
    assert!(text(&mut client).await.starts_with("40/private,{\"sid\":"));
    // A wrong version or transport is refused at the handshake.
    let url = server.ws_url("sio", "/socket.io/?EIO=3&transport=websocket");
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_broadcasts_data_and_the_server_handle() {
    let server = server().await;
    let join = |server: &TestServer| {
        let server_url = server.ws_url("sio", "/socket.io/?EIO=4&transport=websocket");
        async move {
            let mut client = TestClient::connect(&server_url).await;
            text(&mut client).await;
            client.send("40/rooms,").await;
            let connect = text(&mut client).await;
            let sid = connect
                .split('"')
                .nth(3)
                .expect("a sid in the CONNECT answer")
                .to_owned();
            (client, sid)
        }
    };
    let (mut a, _) = join(&server).await;
    let (mut b, b_id) = join(&server).await;
    let (mut c, _) = join(&server).await;
    b.send(r#"42/rooms,1["mute"]"#).await;
    assert_eq!(
        text(&mut b).await,
        format!(r#"43/rooms,1[["{b_id}","muted"]]"#)
    );

    let io = ws_core::socketio::SocketIo::new(server.sender());
    assert_eq!(io.of("/rooms").size().await.expect("size"), 3);
    assert_eq!(
        io.of("/rooms").except("muted").size().await.expect("size"),
        2
    );
    let muted = io
        .of("/rooms")
        .to("muted")
        .fetch_sockets()
        .await
        .expect("fetch");
    assert_eq!(
        muted.iter().map(|s| s.id()).collect::<Vec<_>>(),
        [b_id.as_str()]
    );
    muted[0].emit("news", "for the muted").await.expect("emit");
    assert_eq!(text(&mut b).await, r#"42/rooms,["news","for the muted"]"#);

    // Everyone but the sender and the muted hears the shout.
    a.send(r#"42/rooms,["shout","hi"]"#).await;
    assert_eq!(text(&mut c).await, r#"42/rooms,["shout","hi"]"#);
    a.send(r#"42/rooms,2["said"]"#).await;
    assert_eq!(text(&mut a).await, r#"43/rooms,2["hi"]"#);
    b.send(r#"42/rooms,3["said"]"#).await;
    assert_eq!(text(&mut b).await, r#"43/rooms,3[]"#);

    c.send(r#"42/rooms,["leave-me"]"#).await;
    assert_eq!(text(&mut c).await, "41/rooms,");
    let deadline = Instant::now() + Duration::from_secs(3);
    while io.of("/rooms").size().await.expect("size") != 2 {
        assert!(
            Instant::now() < deadline,
            "the left socket is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn socket_data_is_still_readable_in_on_disconnect() {
    let server = server().await;
    let url = server.ws_url("sio", "/socket.io/?EIO=4&transport=websocket");
    let farewell = |url: String| async move {
        let mut client = TestClient::connect(&url).await;
        text(&mut client).await;
        client.send("40/farewell,").await;
        let connect = text(&mut client).await;
        assert!(connect.starts_with("40/farewell,{\"sid\":"), "{connect}");
        client
    };
    let mut watcher = farewell(url.clone()).await;
    watcher.send(r#"42/farewell,1["watch"]"#).await;
    assert_eq!(text(&mut watcher).await, "43/farewell,1[]");

    // Leaving the namespace: the handler task's `leave` path.
    let mut ada = farewell(url.clone()).await;
    ada.send(r#"42/farewell,1["name","ada"]"#).await;
    assert_eq!(text(&mut ada).await, "43/farewell,1[]");
    ada.send("41/farewell,").await;
    assert_eq!(
        text(&mut watcher).await,
        r#"42/farewell,["left","ada (client namespace disconnect)"]"#
    );

    // Closing the connection: the path every socket of a closed connection takes.
    let mut bob = farewell(url).await;
    bob.send(r#"42/farewell,1["name","bob"]"#).await;
    assert_eq!(text(&mut bob).await, "43/farewell,1[]");
    bob.close().await;
    assert_eq!(
        text(&mut watcher).await,
        r#"42/farewell,["left","bob (transport close)"]"#
    );
    server.shutdown().await;
}
