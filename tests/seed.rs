//! The seed app's contract, end to end in-process: real WebSocket clients over TCP and a real
//! HTTP client against the example's routes.

use std::time::Duration;

use futures_util::SinkExt;
use support::delivery::{Next, assert_silent, next_event};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use ws_core::App;
use ws_core::testing::{TestClient, TestServer};

async fn seed() -> TestServer {
    let mut app = App::new();
    seed::routes(&mut app);
    TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("seed app boots")
}

/// The fd of the connection that was opened last.
async fn newest_fd(server: &TestServer) -> u64 {
    let (status, body) = server.get("http", "/server/connections").await;
    assert_eq!(status, 200);
    let fds: Vec<u64> = serde_json::from_str(&body).expect("a JSON array of fds");
    *fds.iter().max().expect("at least one connection")
}

#[tokio::test]
async fn root_route_opens_then_answers_recv() {
    let server = seed().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    client.send("hi").await;
    client.assert_push("Recv: hi").await;
    client.send("second").await;
    client.assert_push("Recv: second").await;
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn context_route_remembers_the_username_cookie() {
    let server = seed().await;
    let mut request = server
        .ws_url("ws", "/context")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", "theme=dark; username=alice".parse().unwrap());
    let (mut alice, _) = TestClient::connect_request(request).await.unwrap();
    let mut anonymous = server.connect("ws", "/context").await;
    alice.send("who am I").await;
    alice.assert_push("Username: alice").await;
    anonymous.send("and me").await;
    anonymous.assert_push("Username: ").await;
    alice.send("again").await;
    alice.assert_push("Username: alice").await;
    server.shutdown().await;
}

#[tokio::test]
async fn echo_route_keeps_the_opcode() {
    let server = seed().await;
    let mut client = server.connect("ws", "/echo").await;
    client.send(Message::text("text")).await;
    client.assert_push(Message::text("text")).await;
    client.send(Message::binary(vec![0u8, 159, 146, 150])).await;
    client
        .assert_push(Message::binary(vec![0u8, 159, 146, 150]))
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_ws_path_is_404_at_the_handshake() {
    let server = seed().await;
    let error = tokio_tungstenite::connect_async(server.ws_url("ws", "/nope"))
        .await
        .unwrap_err();
    match error {
        tungstenite::Error::Http(response) => assert_eq!(response.status(), 404),
        other => panic!("expected an HTTP 404, got {other}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_on_the_ws_port_gets_426_not_a_hang() {
    let server = seed().await;
    let addr = server.app().addr("ws").unwrap();
    let (status, body) = ws_core::testing::http_request(addr, "GET", "/", &[], "").await;
    assert_eq!(status, 426);
    assert!(body.contains("WebSocket"), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn send_pushes_hello_world_to_the_fd() {
    let server = seed().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    let fd = newest_fd(&server).await;
    for method in ["GET", "POST"] {
        let (status, body) = server
            .http("http", method, &format!("/server/send?fd={fd}"), "")
            .await;
        assert_eq!((status, body.as_str()), (200, ""), "{method}");
        client.assert_push("Hello World.").await;
    }
    // A form body binds the fd too.
    let addr = server.app().addr("http").unwrap();
    let (status, _) = ws_core::testing::http_request(
        addr,
        "POST",
        "/server/send",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("fd={fd}"),
    )
    .await;
    assert_eq!(status, 200);
    client.assert_push("Hello World.").await;
    server.shutdown().await;
}

#[tokio::test]
async fn send_to_an_unknown_or_closed_fd_is_404_json() {
    let server = seed().await;
    let (status, body) = server.get("http", "/server/send?fd=999999").await;
    assert_eq!(status, 404);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["error"].as_str().unwrap().contains("999999"), "{body}");

    let client = server.connect("ws", "/").await;
    let fd = newest_fd(&server).await;
    client.close().await;
    wait_until_gone(&server, fd).await;
    let (status, _) = server.get("http", &format!("/server/send?fd={fd}")).await;
    assert_eq!(status, 404);
    let (status, _) = server.get("http", &format!("/server/close?fd={fd}")).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

async fn wait_until_gone(server: &TestServer, fd: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.sender().exists(ws_core::Fd(fd)).await.unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "fd {fd} still exists after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn missing_or_non_numeric_fd_is_400() {
    let server = seed().await;
    for path in [
        "/server/send",
        "/server/send?fd=abc",
        "/server/close",
        "/server/close?fd=-1",
    ] {
        let (status, body) = server.get("http", path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("fd"), "{path}: {body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn close_answers_at_once_and_disconnects_a_second_later() {
    let server = seed().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    let fd = newest_fd(&server).await;
    // "At once" is an order of events, not a number of milliseconds: the answer comes while the
    // connection is still open (the client has seen no close yet), and the close no sooner than
    // the second after the request (load can only delay it).
    let started = std::time::Instant::now();
    let (status, body) = server.get("http", &format!("/server/close?fd={fd}")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let answered = started.elapsed();
    match next_event(&mut client, Duration::ZERO).await {
        Next::Silent => {}
        other => panic!("the close came before the answer ({answered:?}): {other:?}"),
    }
    client.assert_closed(1000).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "closed after {waited:?}, before the guide's one second"
    );
    wait_until_gone(&server, fd).await;
    server.shutdown().await;
}

#[tokio::test]
async fn connections_lists_open_fds_and_fds_are_never_reused() {
    let server = seed().await;
    let first = server.connect("ws", "/echo").await;
    let a = newest_fd(&server).await;
    let second = server.connect("ws", "/echo").await;
    let b = newest_fd(&server).await;
    assert!(b > a);
    let (_, body) = server.get("http", "/server/connections").await;
    let fds: Vec<u64> = serde_json::from_str(&body).unwrap();
    assert_eq!(fds, vec![a, b]);
    first.close().await;
    second.close().await;
    wait_until_gone(&server, b).await;
    let _third = server.connect("ws", "/echo").await;
    let c = newest_fd(&server).await;
    assert!(c > b, "fd {c} reused");
    server.shutdown().await;
}

#[tokio::test]
async fn sender_reports_delivery_and_typed_errors() {
    let server = seed().await;
    let mut client = server.connect("ws", "/echo").await;
    let fd = ws_core::Fd(newest_fd(&server).await);
    let sender = server.sender();
    assert!(sender.exists(fd).await.unwrap());
    sender.push(fd, "direct").await.unwrap();
    client.assert_push("direct").await;
    sender.disconnect_with(fd, 4000, "bye").await.unwrap();
    client.assert_closed(4000).await;
    wait_until_gone(&server, fd.get()).await;
    assert_eq!(
        sender.push(fd, "late").await,
        Err(ws_core::SendError::NotConnected(fd))
    );
    assert_eq!(
        sender.disconnect(fd).await,
        Err(ws_core::SendError::NotConnected(fd))
    );
    assert!(!sender.exists(fd).await.unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn rooms_and_broadcast_count_local_deliveries() {
    let server = seed().await;
    let mut red1 = server.connect("ws", "/room?name=red").await;
    let mut red2 = server.connect("ws", "/room?name=red").await;
    let mut blue = server.connect("ws", "/room?name=blue").await;
    // Joining happens in on_open; a message through the room proves it is done.
    red1.send("hello red").await;
    red1.assert_push("hello red").await;
    red2.assert_push("hello red").await;
    blue.send("hello blue").await;
    blue.assert_push("hello blue").await;

    let (status, body) = server
        .get("http", "/server/room?name=red&msg=to%20red")
        .await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["delivered"], 2);
    red1.assert_push("to red").await;
    red2.assert_push("to red").await;

    let (status, body) = server
        .http("http", "POST", "/server/broadcast?msg=all", "")
        .await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["delivered"], 3);
    for client in [&mut red1, &mut red2, &mut blue] {
        client.assert_push("all").await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_client_with_1001() {
    let server = seed().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(server.connect("ws", "/echo").await);
    }
    let shutdown = tokio::spawn(server.shutdown());
    for client in &mut clients {
        client.assert_closed(1001).await;
    }
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown is bounded")
        .unwrap();
}

#[tokio::test]
async fn a_handler_error_keeps_the_connection_open() {
    let server = seed().await;
    let mut client = server.connect("ws", "/").await;
    client.assert_push("Opened").await;
    // `/` answers `Recv: <text>`; binary that is not UTF-8 makes `to_text()` fail in the handler.
    client
        .stream()
        .send(Message::binary(vec![0xff, 0xfe]))
        .await
        .unwrap();
    client.send("still here").await;
    client.assert_push("Recv: still here").await;
    assert_silent(
        &mut client,
        "the client whose message failed in the handler",
    )
    .await;
    server.shutdown().await;
}
