//! The app end to end: its own `config/server.toml` on free ports, real clients over TCP.

use ws_core::App;
use ws_core::testing::TestServer;

/// Boots the app as `main` does, with every port of `config/server.toml` replaced by a free one.
async fn start() -> TestServer {
    let mut app = App::new();
    {{crate_name}}::setup(&mut app);
    TestServer::start(app, include_str!("../config/server.toml"))
        .await
        .expect("the app boots")
}

#[tokio::test]
async fn websocket_greets_then_answers_every_message() {
    let server = start().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    client.send("hi").await;
    client.assert_push("Recv: hi").await;
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn http_pushes_to_and_closes_a_connection_by_fd() {
    let server = start().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    let fd = server.sender().local_fds()[0];

    let (status, _) = server.get("http", &format!("/server/send?fd={fd}")).await;
    assert_eq!(status, 200);
    client.assert_push("Hello World.").await;

    let (status, body) = server.get("http", "/server/connections").await;
    assert_eq!((status, body), (200, format!("[{fd}]")));

    let (status, _) = server.get("http", &format!("/server/close?fd={fd}")).await;
    assert_eq!(status, 200);
    client.assert_closed(1000).await;
    server.shutdown().await;
}

#[tokio::test]
async fn http_root_answers() {
    let server = start().await;
    let (status, body) = server.get("http", "/").await;
    assert_eq!((status, body.as_str()), (200, "{{name}} is running"));
    server.shutdown().await;
}
