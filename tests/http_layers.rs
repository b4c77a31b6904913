//! tower-http's middleware on the framework's own HTTP server: trace, timeout, CORS and
//! compression around one `#[controller]`'s routes (`#[controller(layer = ..)]`), and CORS around
//! a whole server (`App::layer`), over real TCP.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use ws_core::http::HttpRequest;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// The middleware of `ApiController`: outermost first.
fn api_layers() -> (
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>>,
    TimeoutLayer,
    CorsLayer,
    CompressionLayer,
) {
    (
        TraceLayer::new_for_http(),
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(300)),
        CorsLayer::permissive(),
        CompressionLayer::new(),
    )
}

#[controller(prefix = "/api", layer = api_layers)]
pub struct ApiController;

#[auto_routes]
impl ApiController {
    pub async fn text(&self) -> String {
        "compress me ".repeat(200)
    }

    pub async fn slow(&self) -> &'static str {
        tokio::time::sleep(Duration::from_secs(3)).await;
        "too late"
    }

    pub async fn echo(&self, msg: String) -> String {
        msg
    }
}

/// The same kind of routes without a layer.
#[controller(prefix = "/plain")]
pub struct PlainController;

#[auto_routes]
impl PlainController {
    pub async fn text(&self) -> String {
        "compress me ".repeat(200)
    }
}

/// One request on its own connection: the head (lower-cased) and the raw body.
async fn exchange(server: &TestServer, request: &str) -> (String, Vec<u8>) {
    let addr = server.app().addr("http").expect("http server");
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("reads");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    (head, raw[split + 4..].to_vec())
}

fn request(method: &str, path: &str, headers: &[&str]) -> String {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for header in headers {
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

const PREFLIGHT: [&str; 2] = [
    "Origin: http://elsewhere.example",
    "Access-Control-Request-Method: POST",
];

#[tokio::test]
async fn a_controller_layer_traces_times_out_answers_cors_and_compresses() {
    let server = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect("boots");

    let (head, body) = exchange(
        &server,
        &request("GET", "/api/text", &["Accept-Encoding: gzip"]),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(body.len() < 200, "{} bytes: not compressed", body.len());

    let (head, body) = exchange(
        &server,
        &request("GET", "/plain/text", &["Accept-Encoding: gzip"]),
    )
    .await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body.len(), 2400);

    let started = std::time::Instant::now();
    let (head, _) = exchange(&server, &request("GET", "/api/slow", &[])).await;
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The preflight reaches the layer although the route has no OPTIONS handler.
    let (head, _) = exchange(&server, &request("OPTIONS", "/api/echo", &PREFLIGHT)).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let (head, _) = exchange(&server, &request("OPTIONS", "/plain/text", &PREFLIGHT)).await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");

    // Parameters and the body still reach the handler through the layer.
    let (head, body) = exchange(
        &server,
        &request(
            "GET",
            "/api/echo?msg=hi",
            &["Origin: http://elsewhere.example"],
        ),
    )
    .await;
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert_eq!(body, b"hi");
    // A method the route lacks is still a 405 behind the layer, with its Allow header.
    let (head, _) = exchange(&server, &request("DELETE", "/api/echo", &[])).await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert!(head.contains("allow: get, head, post"), "{head}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_layer_wraps_every_route_and_an_unknown_server_fails_the_boot() {
    let mut app = App::new();
    app.router("http")
        .get("/ping", |_req: HttpRequest| async { "pong" });
    app.layer("http", CorsLayer::permissive());
    let server = TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boots");
    let (head, _) = exchange(&server, &request("OPTIONS", "/ping", &PREFLIGHT)).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let (head, body) = exchange(
        &server,
        &request("GET", "/ping", &["Origin: http://elsewhere.example"]),
    )
    .await;
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert_eq!(body, b"pong");
    let (head, _) = exchange(&server, &request("GET", "/nowhere", &[])).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    server.shutdown().await;

    let mut app = App::new();
    app.layer("admin", CorsLayer::permissive());
    let error = TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("no server `admin`");
    assert!(error.to_string().contains("server `admin`"), "{error}");
}
