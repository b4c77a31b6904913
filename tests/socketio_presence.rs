//! Presence on one node, in-process, with a raw Socket.IO client: `fetch_sockets` with each
//! member's node, rooms and metadata, the presence changes a tracked socket raises, and a local
//! emit. Two nodes are `socketio_presence_cluster.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use ws_core::NodeId;
use ws_core::prelude::*;
use ws_core::socketio::{PresenceEvent, PresenceEvents, PresenceKind};
use ws_core::testing::{TestClient, TestServer};

const CONFIG: &str = r#"
[[servers]]
name = "sio"
type = "websocket"
host = "127.0.0.1"
port = 0

[servers.settings]
close_timeout_ms = 200

[servers.settings.socketio]
enabled = true
"#;

/// What a socket shares with the others.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub name: String,
}

/// The namespace under test.
#[socketio_namespace(server = "sio", path = "/")]
#[derive(Default)]
pub struct Lobby;

#[socketio_events]
impl Lobby {
    #[event("track")]
    async fn track(&self, socket: &Socket, member: Member) -> String {
        socket.set_presence(&member).await.ok();
        "tracked".into()
    }

    #[event("join")]
    async fn join(&self, socket: &Socket, room: String) -> String {
        socket.join(&room).await.ok();
        "joined".into()
    }

    #[event("leave")]
    async fn leave(&self, socket: &Socket, room: String) -> String {
        socket.leave(&room).await.ok();
        "left".into()
    }
}

/// A client connected to `/`, and its socket id.
async fn connected(server: &TestServer) -> (TestClient, String) {
    let url = server.ws_url("sio", "/socket.io/?EIO=4&transport=websocket");
    let mut client = TestClient::connect(&url).await;
    assert!(text(&mut client).await.starts_with('0'));
    client.send("40").await;
    let connect = text(&mut client).await;
    let body: Value = serde_json::from_str(&connect[2..]).expect("connect JSON");
    let sid = body["sid"].as_str().expect("sid").to_owned();
    (client, sid)
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

/// Sends event `name` with `arg`, asking for ack 1, and returns the ack's first argument.
async fn call(client: &mut TestClient, name: &str, arg: Value) -> Value {
    client.send(format!("421{}", json!([name, arg]))).await;
    let ack = text(client).await;
    let args: Value = serde_json::from_str(ack.strip_prefix("431").expect("an ack")).expect("JSON");
    args[0].clone()
}

async fn next_change(changes: &mut PresenceEvents) -> PresenceEvent {
    tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("a presence change in time")
        .expect("the node is up")
}

fn assert_change(change: &PresenceEvent, kind: PresenceKind, sid: &str, name: &str) {
    assert_eq!(change.kind, kind, "{change:?}");
    assert_eq!(change.socket_id, sid);
    assert_eq!(change.room, "lobby");
    assert_eq!(change.namespace, "/");
    assert_eq!(change.node, NodeId(0));
    let member: Option<Member> = change.meta_as().expect("meta");
    assert_eq!(member.map(|m| m.name).as_deref(), Some(name));
}

#[tokio::test]
async fn one_node_lists_members_and_announces_their_changes() {
    let server = TestServer::start(App::new(), CONFIG).await.expect("boots");
    let io = SocketIo::new(server.sender());
    let mut changes = io.presence();

    let (mut ann, ann_id) = connected(&server).await;
    assert_eq!(
        call(&mut ann, "track", json!({"name": "ann"})).await,
        "tracked"
    );
    assert_eq!(call(&mut ann, "join", json!("lobby")).await, "joined");
    assert_change(
        &next_change(&mut changes).await,
        PresenceKind::Join,
        &ann_id,
        "ann",
    );

    // Untracked, a join is no change; tracked, the rooms it is in are joined, then updated.
    let (mut bob, bob_id) = connected(&server).await;
    assert_eq!(call(&mut bob, "join", json!("lobby")).await, "joined");
    assert_eq!(
        call(&mut bob, "track", json!({"name": "bob"})).await,
        "tracked"
    );
    assert_change(
        &next_change(&mut changes).await,
        PresenceKind::Join,
        &bob_id,
        "bob",
    );
    assert_eq!(
        call(&mut bob, "track", json!({"name": "bobby"})).await,
        "tracked"
    );
    assert_change(
        &next_change(&mut changes).await,
        PresenceKind::Update,
        &bob_id,
        "bobby",
    );

    let mut listed = io.fetch_sockets("lobby").await.expect("listed");
    listed.sort_by(|a, b| a.id().cmp(b.id()));
    let mut expected = [(ann_id.clone(), "ann"), (bob_id.clone(), "bobby")];
    expected.sort();
    assert_eq!(listed.len(), 2);
    for (socket, (id, name)) in listed.iter().zip(&expected) {
        assert_eq!(socket.id(), id);
        assert_eq!(socket.node(), NodeId(0));
        let mut rooms = vec!["lobby".to_owned(), id.clone()];
        rooms.sort();
        assert_eq!(socket.rooms(), rooms);
        let member: Option<Member> = socket.presence().expect("meta");
        assert_eq!(member.map(|m| m.name).as_deref(), Some(*name));
    }

    // A local emit reaches this node's members.
    io.of("/")
        .local()
        .to("lobby")
        .emit("hi", "there")
        .await
        .expect("emitted");
    assert_eq!(text(&mut ann).await, r#"42["hi","there"]"#);
    assert_eq!(text(&mut bob).await, r#"42["hi","there"]"#);

    assert_eq!(call(&mut ann, "leave", json!("lobby")).await, "left");
    assert_change(
        &next_change(&mut changes).await,
        PresenceKind::Leave,
        &ann_id,
        "ann",
    );
    // A closed connection leaves every room, with the metadata of who left.
    bob.close().await;
    assert_change(
        &next_change(&mut changes).await,
        PresenceKind::Leave,
        &bob_id,
        "bobby",
    );
    assert!(io.fetch_sockets("lobby").await.expect("listed").is_empty());
    server.shutdown().await;
}
