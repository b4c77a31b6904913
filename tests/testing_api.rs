//! `ws_core::testing`: connecting with headers, cookies and subprotocols without tungstenite's
//! types, typed connection errors, assertion failures that point at the test's own line, and
//! permessage-deflate offered, agreed and measured on the wire.

use std::sync::Arc;
use std::time::Duration;

use ws_core::prelude::*;
use ws_core::testing::{ConnectError, TestServer};
use ws_core::{Handshake, WsRoute};

#[derive(Default)]
struct Greeter;

impl WebSocketHandler for Greeter {
    async fn on_handshake(
        &self,
        req: &Request,
        _handshake: &mut Handshake,
    ) -> std::result::Result<(), Rejection> {
        match req.header("authorization") {
            Some("Bearer ok") => Ok(()),
            _ => {
                Err(Rejection::unauthorized("token required").header("WWW-Authenticate", "Bearer"))
            }
        }
    }

    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        let user = req.cookie("username").unwrap_or_default();
        let tag = req.header("x-tag").unwrap_or_default().to_string();
        conn.push(format!("hello {user} {tag}")).await?;
        Ok(())
    }
}

#[derive(Default)]
struct Echo;

impl WebSocketHandler for Echo {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}

async fn server() -> TestServer {
    let mut app = App::new();
    app.router("ws").ws_route(
        "/greet",
        WsRoute::new(Arc::new(Greeter)).protocols(["chat.v2", "chat.v1"]),
        "Greeter",
    );
    app.router("ws").ws("/echo", Echo);
    // A route carrying already-compressed data declines the offer.
    app.router("ws").ws_route(
        "/echo-raw",
        WsRoute::new(Arc::new(Echo)).compression(false),
        "Echo",
    );
    TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boots")
}

#[tokio::test]
async fn headers_cookies_and_subprotocols_reach_the_server() {
    let server = server().await;
    let mut client = server
        .build("ws", "/greet")
        .header("authorization", "Bearer ok")
        .header("x-tag", "t1")
        .cookie("theme", "dark")
        .cookie("username", "alice")
        .protocol("chat.v1")
        .protocol("chat.v2")
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .expect("connects");
    assert_eq!(client.protocol(), Some("chat.v1"));
    client.assert_push("hello alice t1").await;

    let refused = server.build("ws", "/greet").connect().await.unwrap_err();
    match refused {
        ConnectError::Rejected {
            status,
            headers,
            body,
        } => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(headers["www-authenticate"], "Bearer");
            assert_eq!(body, "token required");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let invalid = server
        .build("ws", "/greet")
        .header("bad header", "x")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, ConnectError::InvalidRequest(_)),
        "{invalid:?}"
    );
    server.shutdown().await;
}

/// A chat room's history as one JSON document, ~4 KiB: the shape a chat app sends.
fn chat_history() -> String {
    let messages: Vec<String> = (0..24)
        .map(|i| {
            format!(
                r#"{{"type":"message","room":"lobby","id":{i},"from":"user{}","sent_at":"2026-12-06T03:{:02}:00Z","text":"see you at the standup in five minutes"}}"#,
                i % 5,
                i % 60
            )
        })
        .collect();
    format!(r#"{{"history":[{}]}}"#, messages.join(","))
}

#[tokio::test]
async fn deflate_is_agreed_and_messages_cross_compressed() {
    let server = server().await;
    let history = chat_history();
    let size = history.len() as u64;
    assert!(size > 3000, "{size}");

    let mut client = server
        .build("ws", "/echo")
        .deflate()
        .connect()
        .await
        .expect("connects");
    let agreed = client.extension().expect("the server agrees").to_string();
    assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
    assert_eq!(
        client.response_headers()["sec-websocket-extensions"],
        agreed.as_str()
    );
    client.send(history.clone()).await;
    client.assert_push(history.clone()).await;
    client
        .send(Message::binary(history.clone().into_bytes()))
        .await;
    client
        .assert_push(Message::binary(history.clone().into_bytes()))
        .await;
    // Two messages each way, each on the wire at well under half its size.
    let (sent, received) = (client.wire_bytes_sent(), client.wire_bytes_received());
    assert!(sent < size, "sent {sent} bytes for 2 x {size}");
    assert!(received < size, "received {received} bytes for 2 x {size}");
    client.close().await;

    let mut plain = server.connect("ws", "/echo").await;
    assert_eq!(plain.extension(), None);
    plain.send(history.clone()).await;
    plain.assert_push(history.clone()).await;
    assert!(plain.wire_bytes_received() > size);

    let mut declined = server
        .build("ws", "/echo-raw")
        .deflate()
        .connect()
        .await
        .expect("connects");
    assert_eq!(declined.extension(), None);
    declined.send(history.clone()).await;
    declined.assert_push(history).await;
    assert!(declined.wire_bytes_received() > size);
    server.shutdown().await;
}

#[tokio::test]
async fn a_failing_assertion_names_the_test_line() {
    let server = server().await;
    let mut client = server
        .build("ws", "/greet")
        .header("authorization", "Bearer ok")
        .connect()
        .await
        .expect("connects");
    let failed = tokio::spawn(async move {
        let assertion = client.assert_push("something else");
        assertion.await
    });
    let panic = failed.await.expect_err("the assertion fails").into_panic();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    let line = line_of_assertion(&message);
    assert!(
        message.starts_with(&format!("tests/testing_api.rs:{line}:")),
        "{message}"
    );
    assert!(message.contains("hello  "), "{message}");
    server.shutdown().await;
}

/// The line the panic names; checked against the source to be the `assert_push` call.
fn line_of_assertion(message: &str) -> usize {
    let line: usize = message
        .split(':')
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no line in {message:?}"));
    let source = include_str!("testing_api.rs");
    let text = source.lines().nth(line - 1).unwrap_or_default();
    assert!(
        text.contains(r#"client.assert_push("something else")"#),
        "line {line} is {text:?}"
    );
    line
}
