//! `/metrics`, `/health` and `/ready` of the seed app booted in-process: the counters move by
//! exactly the traffic a test sends, and readiness drops as soon as shutdown begins.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use ws_core::testing::{TestClient, TestServer};
use ws_core::{App, Fd, Message};

/// Samples of one scrape: `name{labels}` -> value.
type Scrape = BTreeMap<String, f64>;

async fn seed(config: &str) -> TestServer {
    let mut app = App::new();
    seed::routes(&mut app);
    TestServer::start(app, config)
        .await
        .expect("the seed boots")
}

/// Scrapes `/metrics`, checking the text format on the way: every sample belongs to a family
/// announced by `# TYPE`, and every value is a number.
async fn scrape(server: &TestServer) -> Scrape {
    let (status, body) = server.get("http", "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let mut families = Vec::new();
    let mut samples = Scrape::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().expect("a family name");
            families.push(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("`name value`");
        let name = key.split('{').next().expect("a name");
        assert!(
            families.iter().any(|f| name == f
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(f))),
            "{name} has no # TYPE line before it:\n{body}"
        );
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        samples.insert(key.to_string(), value);
    }
    samples
}

fn value(scrape: &Scrape, key: &str) -> f64 {
    scrape.get(key).copied().unwrap_or(0.0)
}

/// Waits (bounded) until every `(key, delta)` holds between `before` and a fresh scrape, then
/// asserts each delta exactly, naming every one that differs.
async fn assert_deltas(server: &TestServer, before: &Scrape, expected: &[(&str, f64)]) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = scrape(server).await;
        let wrong: Vec<String> = expected
            .iter()
            .filter_map(|(key, delta)| {
                let got = value(&now, key) - value(before, key);
                (got != *delta).then(|| format!("{key}: moved by {got}, expected {delta}"))
            })
            .collect();
        if wrong.is_empty() {
            return now;
        }
        assert!(Instant::now() < deadline, "{}", wrong.join("\n"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fds(server: &TestServer) -> Vec<Fd> {
    let (status, body) = server.get("http", "/server/connections").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("a JSON array of fds")
}

/// Closes with `code` from the client side and waits for the server's answer.
async fn close_with(mut client: TestClient, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "test".into(),
    };
    client
        .stream()
        .close(Some(frame))
        .await
        .expect("close sent");
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while client.stream().next().await.is_some() {}
    })
    .await;
}

#[tokio::test]
async fn counters_move_by_exactly_the_traffic_sent() {
    let server = seed(TestServer::DEFAULT_CONFIG).await;
    let before = scrape(&server).await;
    for family in [
        "ws_messages_received_total",
        "ws_received_bytes_total",
        "ws_messages_sent_total",
        "ws_sent_bytes_total",
        "ws_handshakes_accepted_total",
        "ws_backplane_errors_total",
        "ws_open_connections{server=\"ws\",route=\"/echo\"}",
        "ws_open_connections{server=\"ws\",route=\"/room\"}",
        "ws_push_latency_seconds_count{op=\"push\",target=\"local\"}",
        "ws_push_latency_seconds_count{op=\"disconnect\",target=\"remote\"}",
    ] {
        assert!(
            before.contains_key(family),
            "{family} missing from {before:#?}"
        );
    }

    // Three handshakes accepted, two rejected on a path no route serves.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(server.connect("ws", "/echo").await);
    }
    for _ in 0..2 {
        match tokio_tungstenite::connect_async(server.ws_url("ws", "/no/such/route")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 404)
            }
            other => panic!("expected a 404, got {:?}", other.map(|(_, r)| r.status())),
        }
    }
    let open = "ws_open_connections{server=\"ws\",route=\"/echo\"}";
    assert_deltas(
        &server,
        &before,
        &[
            ("ws_handshakes_accepted_total", 3.0),
            ("ws_handshakes_rejected_total{reason=\"not_found\"}", 2.0),
            (open, 3.0),
        ],
    )
    .await;

    // Each client sends 10 + 100 + 1000 bytes in three messages; /echo sends them back.
    for client in &mut clients {
        let messages = [
            Message::text("a".repeat(10)),
            Message::text("b".repeat(100)),
            Message::binary(vec![7u8; 1000]),
        ];
        for message in messages {
            client.send(message.clone()).await;
            client.assert_push(message).await;
        }
    }

    // One push through `Sender` from HTTP ("Hello World.", 12 bytes), one disconnect from code.
    let fds = fds(&server).await;
    assert_eq!(fds.len(), 3, "{fds:?}");
    let (status, body) = server
        .get("http", &format!("/server/send?fd={}", fds[0]))
        .await;
    assert_eq!(status, 200, "{body}");
    server
        .sender()
        .disconnect_with(fds[2], 4002, "bye")
        .await
        .expect("disconnected");

    // Closes: 1000 and 4001 from clients, 4002 from the server.
    let mut clients = clients.into_iter();
    let (mut first, second, mut third) = (
        clients.next().expect("1"),
        clients.next().expect("2"),
        clients.next().expect("3"),
    );
    // The fds are sorted and allocated in connection order.
    first.assert_push("Hello World.").await;
    third.assert_closed(4002).await;
    close_with(first, 1000).await;
    close_with(second, 4001).await;

    let after = assert_deltas(
        &server,
        &before,
        &[
            ("ws_handshakes_accepted_total", 3.0),
            ("ws_handshakes_rejected_total{reason=\"not_found\"}", 2.0),
            ("ws_messages_received_total", 9.0),
            ("ws_received_bytes_total", 3.0 * 1110.0),
            ("ws_messages_sent_total", 9.0 + 1.0),
            ("ws_sent_bytes_total", 3.0 * 1110.0 + 12.0),
            ("ws_closes_total{code=\"1000\"}", 1.0),
            ("ws_closes_total{code=\"4001\"}", 1.0),
            ("ws_closes_total{code=\"4002\"}", 1.0),
            (open, 0.0),
            (
                "ws_push_latency_seconds_count{op=\"push\",target=\"local\"}",
                1.0,
            ),
            (
                "ws_push_latency_seconds_bucket{op=\"push\",target=\"local\",le=\"+Inf\"}",
                1.0,
            ),
            (
                "ws_push_latency_seconds_count{op=\"disconnect\",target=\"local\"}",
                1.0,
            ),
            (
                "ws_push_latency_seconds_count{op=\"push\",target=\"remote\"}",
                0.0,
            ),
            ("ws_backplane_errors_total", 0.0),
            ("ws_handler_errors_total", 0.0),
            ("ws_handler_panics_total", 0.0),
        ],
    )
    .await;
    let latency = value(
        &after,
        "ws_push_latency_seconds_sum{op=\"push\",target=\"local\"}",
    );
    assert!(latency > 0.0 && latency < 1.0, "{latency}");
    server.shutdown().await;
}

#[tokio::test]
async fn open_connections_are_counted_per_route() {
    let server = seed(TestServer::DEFAULT_CONFIG).await;
    let before = scrape(&server).await;
    let echo = server.connect("ws", "/echo").await;
    let room = server.connect("ws", "/room?name=lobby").await;
    let mut root = server.connect("ws", "/").await;
    root.assert_push("Opened").await;
    let route = |r: &str| format!("ws_open_connections{{server=\"ws\",route=\"{r}\"}}");
    let (echo_key, room_key, root_key, context_key) = (
        route("/echo"),
        route("/room"),
        route("/"),
        route("/context"),
    );
    assert_deltas(
        &server,
        &before,
        &[
            (&echo_key, 1.0),
            (&room_key, 1.0),
            (&root_key, 1.0),
            (&context_key, 0.0),
        ],
    )
    .await;
    for client in [echo, room, root] {
        client.close().await;
    }
    assert_deltas(
        &server,
        &before,
        &[(&echo_key, 0.0), (&room_key, 0.0), (&root_key, 0.0)],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn health_and_ready_answer_json() {
    let server = seed(TestServer::DEFAULT_CONFIG).await;
    let (status, body) = server.get("http", "/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = server.get("http", "/ready").await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ready, serde_json::json!({"servers": true, "cluster": true}));
    // The WebSocket port serves none of them.
    match tokio_tungstenite::connect_async(server.ws_url("ws", "/metrics")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("expected a 404, got {:?}", other.map(|(_, r)| r.status())),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let config = format!(
        "{}\n[metrics]\nenabled = false\n",
        TestServer::DEFAULT_CONFIG
    );
    let server = seed(&config).await;
    for path in ["/metrics", "/health", "/ready"] {
        assert_eq!(server.get("http", path).await.0, 404, "{path}");
    }
    server.shutdown().await;
}

/// One request on a kept-alive connection: the status line's code and the body.
async fn keep_alive_get(stream: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut status_line = String::new();
    stream
        .read_line(&mut status_line)
        .await
        .expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {status_line:?}"));
    let mut length = 0;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).await.expect("a header");
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("a length");
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("the body");
    (status, String::from_utf8_lossy(&body).to_string())
}

#[tokio::test]
async fn ready_turns_503_as_soon_as_shutdown_begins() {
    // A client that never answers the close frame keeps the drain going for about a second.
    let config = format!(
        "{}\n[servers.settings]\nclose_timeout_ms = 1500\n\n[runtime]\ndrain_timeout_ms = 3000\n",
        TestServer::DEFAULT_CONFIG
    );
    let server = seed(&config).await;
    let addr = server.app().addr("http").expect("an http server");
    let mut http = BufReader::new(TcpStream::connect(addr).await.expect("connected"));
    assert_eq!(keep_alive_get(&mut http, "/ready").await.0, 200);
    let silent = server.connect("ws", "/echo").await;

    let shutdown = tokio::spawn(server.shutdown());
    let deadline = Instant::now() + Duration::from_secs(1);
    let (status, body) = loop {
        let (status, body) = keep_alive_get(&mut http, "/ready").await;
        if status != 200 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ready["servers"], false, "{body}");
    // Liveness is not readiness: the process is still healthy while it drains.
    assert_eq!(keep_alive_get(&mut http, "/health").await.0, 200);
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown finishes")
        .expect("shutdown does not panic");
    drop(silent);
}
