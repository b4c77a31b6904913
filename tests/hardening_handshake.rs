//! Handshake security: the `on_handshake` hook accepts or rejects with a status, headers and a
//! body (auth tokens, cookies); the Origin allow-list; subprotocol negotiation; extra response
//! headers; and the answers to requests that are not upgrades at all.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;

use raw::{RawClient, TEXT, http_exchange, upgrade_request};
use ws_core::WsRoute;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// Wants `?token=` or `Authorization: Bearer`; refuses a banned session cookie.
#[derive(Default)]
struct Guarded;

impl WebSocketHandler for Guarded {
    async fn on_handshake(
        &self,
        req: &Request,
        handshake: &mut Handshake,
    ) -> Result<(), Rejection> {
        if req.cookie("session").as_deref() == Some("banned") {
            return Err(Rejection::forbidden("this session is banned\n"));
        }
        let token = req.query("token").or_else(|| {
            req.header("authorization")
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::to_string)
        });
        match token.as_deref() {
            Some("alice-token") => {
                handshake.context().set("user", "alice".to_string());
                handshake.header("X-Served-By", "ws-core");
                Ok(())
            }
            Some(_) => {
                Err(Rejection::unauthorized("invalid token\n").header("WWW-Authenticate", "Bearer"))
            }
            None => {
                Err(Rejection::unauthorized("token required\n")
                    .header("WWW-Authenticate", "Bearer"))
            }
        }
    }

    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        let user: String = conn.context().get("user").unwrap_or_default();
        conn.push(format!("hello {user}")).await?;
        Ok(())
    }
}

/// Tells the client which subprotocol it got.
#[derive(Default)]
struct Chat;

impl WebSocketHandler for Chat {
    async fn on_handshake(
        &self,
        _req: &Request,
        handshake: &mut Handshake,
    ) -> Result<(), Rejection> {
        let protocol = handshake.protocol().unwrap_or("none").to_string();
        handshake.context().set("protocol", protocol);
        Ok(())
    }

    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        let protocol: String = conn.context().get("protocol").unwrap_or_default();
        conn.push(protocol).await?;
        Ok(())
    }
}

#[derive(Default)]
struct Open;

impl WebSocketHandler for Open {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        conn.push("open").await?;
        Ok(())
    }
}

/// Panics in its handshake hook.
#[derive(Default)]
struct Broken;

impl WebSocketHandler for Broken {
    async fn on_handshake(
        &self,
        _req: &Request,
        _handshake: &mut Handshake,
    ) -> Result<(), Rejection> {
        panic!("a bug in on_handshake");
    }
}

async fn start() -> (TestServer, SocketAddr) {
    let mut app = App::new();
    app.router("ws")
        .ws("/auth", Guarded)
        .ws_route(
            "/chat",
            WsRoute::new(std::sync::Arc::new(Chat)).protocols(["chat.v2", "chat.v1"]),
            "Chat",
        )
        .ws("/open", Open)
        .ws("/broken", Broken);
    let config = r#"
[[servers]]
name = "ws"
type = "websocket"
port = 0
[servers.settings]
allowed_origins = ["https://good.example", "http://localhost:3000"]
"#;
    let server = TestServer::start(app, config).await.expect("boot");
    let addr = server.app().addr("ws").expect("ws");
    (server, addr)
}

async fn refused(addr: SocketAddr, path: &str, extra: &str) -> raw::HttpResponse {
    match RawClient::connect_with(addr, path, extra).await {
        Ok(client) => panic!("{path} with {extra:?} was accepted: {}", client.response),
        Err(response) => response,
    }
}

#[tokio::test]
async fn the_hook_rejects_with_401_and_its_body_and_headers() {
    let (server, addr) = start().await;
    let response = refused(addr, "/auth", "").await;
    assert_eq!(response.status, 401);
    assert_eq!(response.body, "token required\n");
    assert_eq!(response.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(response.header("Content-Length"), Some("15"));

    let response = refused(addr, "/auth?token=wrong", "").await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (401, "invalid token\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_hook_rejects_a_cookie_with_403() {
    let (server, addr) = start().await;
    let response = refused(
        addr,
        "/auth?token=alice-token",
        "Cookie: theme=dark; session=banned\r\n",
    )
    .await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (403, "this session is banned\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_accepted_hook_passes_context_and_response_headers() {
    let (server, addr) = start().await;
    for (path, extra) in [
        ("/auth?token=alice-token", ""),
        ("/auth", "Authorization: Bearer alice-token\r\n"),
    ] {
        let mut client = RawClient::connect_with(addr, path, extra)
            .await
            .unwrap_or_else(|r| panic!("refused: {r:?}"));
        assert!(
            client.response.contains("X-Served-By: ws-core\r\n")
                || client.response.contains("x-served-by: ws-core\r\n"),
            "no extra header in {:?}",
            client.response
        );
        let hello = client.read_data().await;
        assert_eq!(
            (hello.opcode, hello.payload.as_slice()),
            (TEXT, &b"hello alice"[..])
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_origin_allow_list_refuses_other_pages_with_403() {
    let (server, addr) = start().await;
    let response = refused(addr, "/open", "Origin: https://evil.example\r\n").await;
    assert_eq!(response.status, 403);
    assert!(
        response.body.contains("https://evil.example"),
        "{:?}",
        response.body
    );
    // Almost-matches are not matches.
    assert_eq!(
        refused(addr, "/open", "Origin: https://good.example.evil\r\n")
            .await
            .status,
        403
    );
    assert_eq!(
        refused(addr, "/open", "Origin: http://good.example\r\n")
            .await
            .status,
        403
    );
    assert_eq!(refused(addr, "/open", "Origin: null\r\n").await.status, 403);

    for origin in [
        "https://good.example",
        "HTTPS://GOOD.EXAMPLE",
        "http://localhost:3000",
    ] {
        let mut client = RawClient::connect_with(addr, "/open", &format!("Origin: {origin}\r\n"))
            .await
            .unwrap_or_else(|r| panic!("{origin} refused: {r:?}"));
        assert_eq!(client.read_data().await.payload, b"open");
    }
    // Clients other than browsers send no Origin.
    let mut client = RawClient::connect(addr, "/open").await;
    assert_eq!(client.read_data().await.payload, b"open");
    server.shutdown().await;
}

#[tokio::test]
async fn exactly_one_offered_subprotocol_is_selected_in_the_clients_order() {
    let (server, addr) = start().await;
    let mut client = RawClient::connect_with(
        addr,
        "/chat",
        "Sec-WebSocket-Protocol: mqtt, chat.v1, chat.v2\r\n",
    )
    .await
    .unwrap_or_else(|r| panic!("refused: {r:?}"));
    assert!(
        client
            .response
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: chat.v1\r\n"),
        "{}",
        client.response
    );
    assert_eq!(client.read_data().await.payload, b"chat.v1");

    // Offered in two header lines, only one supported.
    let mut client = RawClient::connect_with(
        addr,
        "/chat",
        "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Protocol: chat.v1\r\n",
    )
    .await
    .unwrap_or_else(|r| panic!("refused: {r:?}"));
    assert!(
        client
            .response
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: chat.v1\r\n")
    );
    assert_eq!(client.read_data().await.payload, b"chat.v1");

    // None offered: accepted, no header.
    let mut client = RawClient::connect(addr, "/chat").await;
    assert!(
        !client
            .response
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol")
    );
    assert_eq!(client.read_data().await.payload, b"none");
    server.shutdown().await;
}

#[tokio::test]
async fn only_unknown_subprotocols_get_400() {
    let (server, addr) = start().await;
    let response = refused(addr, "/chat", "Sec-WebSocket-Protocol: mqtt, stomp\r\n").await;
    assert_eq!(response.status, 400);
    assert!(
        response.body.contains("chat.v2") && response.body.contains("mqtt"),
        "{:?}",
        response.body
    );
    // A route without subprotocols accepts the upgrade without choosing one (RFC 6455 §4.2.2).
    let client = RawClient::connect_with(addr, "/open", "Sec-WebSocket-Protocol: mqtt\r\n")
        .await
        .expect("accepted");
    assert!(
        !client
            .response
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_tungstenite_client_sees_the_selected_subprotocol() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (server, addr) = start().await;
    let mut request = format!("ws://{addr}/chat")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat.v1".parse().expect("header"));
    let (mut client, response) = ws_core::testing::TestClient::connect_request(request)
        .await
        .expect("connect");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.as_bytes()),
        Some(&b"chat.v1"[..])
    );
    client.assert_push("chat.v1").await;
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_unknown_paths_and_bad_upgrades_get_4xx_not_a_hang() {
    let (server, addr) = start().await;
    let plain = http_exchange(
        addr,
        format!("GET /open HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(plain.status, 426);
    assert_eq!(plain.header("Upgrade"), Some("websocket"));
    assert_eq!(refused(addr, "/nowhere", "").await.status, 404);
    let old_version = upgrade_request(addr, "/open", "").replace("Version: 13", "Version: 8");
    let response = http_exchange(addr, old_version.as_bytes()).await;
    assert_eq!(
        (response.status, response.header("Sec-WebSocket-Version")),
        (426, Some("13"))
    );
    let no_key = upgrade_request(addr, "/open", "")
        .replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(http_exchange(addr, no_key.as_bytes()).await.status, 400);
    // RFC 6455 §4.2.1: the key is base64 of exactly 16 bytes. 24 characters that decode to 17
    // or 18 bytes, or that are not base64 at all, are refused.
    for key in [
        "AAAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
        "!!!!!!!!!!!!!!!!!!!!!!==",
    ] {
        let request = upgrade_request(addr, "/open", "").replace("dGhlIHNhbXBsZSBub25jZQ==", key);
        assert_eq!(
            http_exchange(addr, request.as_bytes()).await.status,
            400,
            "Sec-WebSocket-Key: {key}"
        );
    }
    let no_host = upgrade_request(addr, "/open", "").replace(&format!("Host: {addr}\r\n"), "");
    assert!(
        !no_host.contains("Host:"),
        "the request still names its host: {no_host}"
    );
    assert_eq!(http_exchange(addr, no_host.as_bytes()).await.status, 400);
    let post = upgrade_request(addr, "/open", "").replacen("GET", "POST", 1);
    assert_eq!(http_exchange(addr, post.as_bytes()).await.status, 400);
    assert_eq!(
        http_exchange(addr, b"\x16\x03\x01garbage\r\n\r\n")
            .await
            .status,
        400
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_hook_answers_500_and_the_server_goes_on() {
    let (server, addr) = start().await;
    let response = refused(addr, "/broken", "").await;
    assert_eq!(response.status, 500);
    let mut client = RawClient::connect(addr, "/open").await;
    assert_eq!(client.read_data().await.payload, b"open");
    server.shutdown().await;
}
