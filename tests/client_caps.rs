//! Per-client caps (`max_connections_per_client`, `max_handshake_rate_per_client`) with raw
//! clients over TCP: 503 and 429 with `Retry-After`, malformed upgrades charged too, forwarding
//! headers believed only from `trusted_proxies` (also through the guides' nginx, which also
//! keeps `/server/*` and `/metrics` from outside callers), and everything off by default.

#[path = "hardening_support.rs"]
mod raw;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use raw::{HttpResponse, RawClient, TEXT, http_exchange, parse_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use ws_core::Config;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// Tells each client, first thing, the address the server counts it as.
struct WhoAmI;

impl WebSocketHandler for WhoAmI {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        let client = req.client_addr().map(|a| a.to_string()).unwrap_or_default();
        conn.push(client).await?;
        Ok(())
    }
}

/// A websocket server (`ws_settings`) and an HTTP server with `/whoami` (`http_settings`).
async fn start(ws_settings: &str, http_settings: &str) -> (TestServer, SocketAddr, SocketAddr) {
    let mut app = App::new();
    app.router("ws").ws("/", WhoAmI);
    app.router("http")
        .get("/whoami", |req: HttpRequest| async move {
            req.client_addr().map(|a| a.to_string()).unwrap_or_default()
        });
    let config = format!(
        "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nhost = \"127.0.0.1\"\nport = 0\n\
         [servers.settings]\n{ws_settings}\n\
         [[servers]]\nname = \"http\"\ntype = \"http\"\nhost = \"127.0.0.1\"\nport = 0\n\
         [servers.settings]\n{http_settings}\n"
    );
    let server = TestServer::start(app, &config).await.expect("boot");
    let ws = server.app().addr("ws").expect("ws server");
    let http = server.app().addr("http").expect("http server");
    (server, ws, http)
}

/// A TCP connection to `addr` from the loopback address `127.0.0.<from>`: distinct clients
/// without leaving the machine.
async fn connect_from(from: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, from), 0)))
        .expect("bind a loopback source address");
    socket.connect(addr).await.expect("connect")
}

/// Upgrades from `127.0.0.<from>` with `extra` header lines: the client address the server
/// reported, or the refusal.
async fn open(
    from: u8,
    addr: SocketAddr,
    extra: &str,
) -> Result<(RawClient, String), HttpResponse> {
    let stream = connect_from(from, addr).await;
    let mut client = RawClient::upgrade(stream, addr, "/", extra).await?;
    let told = client.read_data().await;
    assert_eq!(told.opcode, TEXT);
    let told = String::from_utf8(told.payload).expect("utf-8");
    Ok((client, told))
}

fn refused(result: Result<(RawClient, String), HttpResponse>, status: u16) -> HttpResponse {
    match result {
        Ok((_, told)) => panic!("accepted ({told}), expected {status}"),
        Err(response) => {
            assert_eq!(response.status, status, "{response:?}");
            let wait: u64 = response
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no Retry-After: {response:?}"));
            assert!((1..=5).contains(&wait), "Retry-After {wait}");
            response
        }
    }
}

#[tokio::test]
async fn the_caps_are_off_by_default() {
    let (server, ws, _) = start("", "").await;
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(open(1, ws, "").await.expect("no cap by default"));
    }
    assert!(held.iter().all(|(_, told)| told == "127.0.0.1"));
    server.shutdown().await;
}

#[tokio::test]
async fn over_the_connection_cap_answers_503_until_one_closes() {
    let (server, ws, _) = start("max_connections_per_client = 2", "").await;
    let first = open(1, ws, "").await.expect("first");
    let _second = open(1, ws, "").await.expect("second");
    let response = refused(open(1, ws, "").await, 503);
    assert!(
        response.body.contains("too many connections"),
        "{response:?}"
    );
    // Another client is not affected.
    open(2, ws, "").await.expect("another address");
    // A connection that ends gives its place back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open(1, ws, "").await {
            Ok(_) => break,
            Err(response) => {
                assert_eq!(response.status, 503);
                assert!(
                    Instant::now() < deadline,
                    "the closed connection's place never came back"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn over_the_handshake_rate_answers_429_and_malformed_upgrades_count() {
    let (server, ws, _) = start("max_handshake_rate_per_client = 3", "").await;
    // Three malformed upgrades use the client's whole burst...
    for _ in 0..3 {
        let mut stream = connect_from(1, ws).await;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .await
            .expect("send");
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(raw::WAIT, stream.read_to_end(&mut raw)).await;
        assert_eq!(parse_response(&raw).status, 400);
    }
    // ...so a good one is refused, from that address only.
    refused(open(1, ws, "").await, 429);
    open(2, ws, "").await.expect("another address");
    // The bucket refills at 3 a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    open(1, ws, "").await.expect("after Retry-After");
    server.shutdown().await;
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let trusted = "max_connections_per_client = 1\ntrusted_proxies = [\"127.0.0.1\"]";
    let (server, ws, http) = start(trusted, "trusted_proxies = [\"127.0.0.0/24\"]").await;
    let (_a, told) = open(1, ws, "X-Forwarded-For: 203.0.113.1\r\n")
        .await
        .expect("a");
    assert_eq!(told, "203.0.113.1");
    // Behind one proxy, two clients are two addresses.
    let (_b, told) = open(1, ws, "X-Forwarded-For: 203.0.113.2\r\n")
        .await
        .expect("b");
    assert_eq!(told, "203.0.113.2");
    // A client that prepends an address of its own choosing is still counted as itself.
    let spoofed = "X-Forwarded-For: 198.51.100.9, 203.0.113.1\r\n";
    refused(open(1, ws, spoofed).await, 503);
    // `Forwarded` is not read unless configured.
    let (_c, told) = open(1, ws, "Forwarded: for=203.0.113.3\r\n")
        .await
        .expect("c");
    assert_eq!(told, "127.0.0.1");
    // HTTP requests see the same rule.
    let get = "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n";
    assert_eq!(
        http_exchange(http, get.as_bytes()).await.body,
        "203.0.113.7"
    );
    server.shutdown().await;

    // From an untrusted peer the header is ignored: every connection is the peer's.
    let untrusted = "max_connections_per_client = 1\ntrusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"forwarded\"";
    let (server, ws, http) = start(untrusted, "").await;
    let (_a, told) = open(1, ws, "Forwarded: for=203.0.113.1\r\n")
        .await
        .expect("a");
    assert_eq!(told, "127.0.0.1");
    refused(open(1, ws, "Forwarded: for=203.0.113.2\r\n").await, 503);
    assert_eq!(http_exchange(http, get.as_bytes()).await.body, "127.0.0.1");
    server.shutdown().await;
}

#[test]
fn caps_on_an_http_server_and_bad_proxies_are_one_line_config_errors() {
    let http = "[[servers]]\nname = \"api\"\ntype = \"http\"\nport = 0\n[servers.settings]\nmax_connections_per_client = 5\n";
    let error = Config::from_toml_str(http)
        .expect_err("caps on an http server")
        .to_string();
    assert!(
        error.contains("servers[0].settings.max_connections_per_client") && !error.contains('\n'),
        "{error}"
    );
    let bad = "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 0\n[servers.settings]\ntrusted_proxies = [\"10.0.0.0/33\"]\n";
    let error = Config::from_toml_str(bad)
        .expect_err("a bad CIDR")
        .to_string();
    assert!(
        error.contains("trusted_proxies") && error.contains("10.0.0.0/33") && !error.contains('\n'),
        "{error}"
    );
}

#[path = "client_caps_nginx.rs"]
mod nginx;
