//! Socket.IO's HTTP long-polling transport and its upgrade to WebSocket, checked by the stock
//! clients against real seed processes: `socket.io-client` with its defaults (`io(url)`:
//! polling, then the upgrade) and polling only (a network that blocks WebSocket), next to a
//! WebSocket client in one room; `python-socketio` with its default transports; CORS of
//! cross-origin polling; two nodes behind nginx running `docs/deploy/nginx.conf`, which keeps a
//! polling session on one node (sticky by client address).

#[path = "cluster/mod.rs"]
mod cluster;

use std::net::SocketAddr;
use std::time::Duration;

use cluster::{Broker, Kind, Nginx, TempDir, socketio_node, socketio_url, unique_prefix};
use support::SeedProcess;
use support::socketio::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The origin the CORS node allows.
const ALLOWED_ORIGIN: &str = "http://app.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_and_polling_only_clients_on_one_node() {
    // The seed's own config/server.toml: Socket.IO with its default transports.
    let node = SeedProcess::start(&[]);
    let target = socketio_url(node.ws);
    let default = ["default".to_string(), target.clone(), target.clone()];
    let polling = ["polling".to_string(), target.clone(), target.clone()];
    let python = [target.clone(), target];
    tokio::join!(
        Client::Node.run("polling_client", &default),
        Client::Node.run("polling_client", &polling),
        Client::Python.run("polling_client", &python),
    );
}

/// One HTTP/1.1 exchange: the status, the head's lines and the body.
async fn exchange(addr: SocketAddr, request: &str) -> (u16, Vec<String>, String) {
    let talk = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), talk)
        .await
        .expect("the server answers in time")
        .expect("the exchange");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.lines().map(str::to_owned);
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1).and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    (status, lines.collect(), body.to_string())
}

fn has_header(head: &[String], name: &str, value: &str) -> bool {
    head.iter().any(|line| {
        line.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_polling_follows_cors_origins() {
    let dir = TempDir::new("sio-cors");
    let node = socketio_node(
        &dir,
        "memory://",
        &unique_prefix("sio-cors"),
        &format!("cors_origins = [\"{ALLOWED_ORIGIN}\"]"),
    );
    let path = "/socket.io/?EIO=4&transport=polling";

    let (status, head, _) = exchange(
        node.ws,
        &format!(
            "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: {ALLOWED_ORIGIN}\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 204, "{head:?}");
    assert!(
        has_header(&head, "access-control-allow-origin", ALLOWED_ORIGIN),
        "{head:?}"
    );
    assert!(
        has_header(&head, "access-control-allow-credentials", "true"),
        "{head:?}"
    );
    assert!(
        has_header(&head, "access-control-allow-headers", "content-type"),
        "{head:?}"
    );

    // The handshake itself, cross-origin: the open packet, readable by the page.
    let (status, head, body) = exchange(
        node.ws,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: {ALLOWED_ORIGIN}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{head:?} {body}");
    assert!(
        has_header(&head, "access-control-allow-origin", ALLOWED_ORIGIN),
        "{head:?}"
    );
    assert!(
        has_header(&head, "access-control-allow-credentials", "true"),
        "{head:?}"
    );
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("JSON");
    let sid = open["sid"].as_str().expect("a sid");
    assert_eq!(sid.len(), 20, "{open}");
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));

    for evil in [
        format!(
            "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n"
        ),
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n"),
        format!("GET {path}&sid={sid} HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n"),
    ] {
        let (status, head, _) = exchange(node.ws, &evil).await;
        assert_eq!(status, 403, "{evil}: {head:?}");
        assert!(
            !head.iter().any(|l| l
                .to_ascii_lowercase()
                .starts_with("access-control-allow-origin")),
            "{head:?}"
        );
    }

    // A POST over the limit is refused before it is read; a chunked one is refused too.
    let (status, _, _) = exchange(
        node.ws,
        &format!("POST {path}&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 413);
    let (status, _, _) = exchange(
        node.ws,
        &format!(
            "POST {path}&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 411);
    // An unknown sid is Engine.IO's "Session ID unknown".
    let (status, _, body) = exchange(
        node.ws,
        &format!("GET {path}&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("\"code\":1"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transports_setting_turns_a_transport_off() {
    let path = "/socket.io/?EIO=4&transport=polling";
    let upgrade = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
                   Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    let dir = TempDir::new("sio-ws-only");
    let ws_only = socketio_node(
        &dir,
        "memory://",
        &unique_prefix("sio-ws-only"),
        "transports = [\"websocket\"]",
    );
    let (status, _, body) = exchange(
        ws_only.ws,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Transport unknown"), "{body}");

    let dir = TempDir::new("sio-poll-only");
    let polling_only = socketio_node(
        &dir,
        "memory://",
        &unique_prefix("sio-poll-only"),
        "transports = [\"polling\"]",
    );
    let (status, _, body) = exchange(
        polling_only.ws,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("JSON");
    assert_eq!(
        open["upgrades"],
        serde_json::json!([]),
        "no upgrade offered: {open}"
    );
    let (status, _, body) = exchange(polling_only.ws, upgrade).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_held_get_closes_the_session() {
    let node = SeedProcess::start(&[]);
    let path = "/socket.io/?EIO=4&transport=polling";
    let (status, _, body) =
        exchange(node.ws, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    assert_eq!(status, 200, "{body}");
    let open: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("an open packet")).expect("JSON");
    let sid = open["sid"].as_str().expect("a sid").to_owned();
    let poll = format!("GET {path}&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    // Held: the session has nothing to send until its first ping.
    let first = tokio::spawn({
        let poll = poll.clone();
        async move { exchange(node.ws, &poll).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!first.is_finished(), "the first GET was not held");
    let (status, _, _) = exchange(node.ws, &poll).await;
    assert_eq!(status, 400, "a second GET while one is held");
    // The session is gone: the held GET returns at once, and the sid is unknown from now on.
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the held GET returns once the session ends")
        .expect("the first GET");
    assert_eq!(status, 200);
    let (status, _, body) = exchange(node.ws, &poll).await;
    assert_eq!(status, 400);
    assert!(body.contains("\"code\":1"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_clients_on_two_nodes_behind_nginx() {
    let Some(program) = Nginx::require() else {
        return;
    };
    let Some(broker) = Broker::start(Kind::Redis) else {
        return;
    };
    let prefix = unique_prefix("sio-poll-nginx");
    let (dir_a, dir_b) = (TempDir::new("sio-poll-a"), TempDir::new("sio-poll-b"));
    // As the seed ships: `/` recovers sessions, so the events carry offsets through nginx too.
    let recovery = "[servers.settings.socketio.recovery]\nnamespaces = [\"/\"]";
    let a = socketio_node(&dir_a, &broker.url(), &prefix, recovery);
    let b = socketio_node(&dir_b, &broker.url(), &prefix, recovery);
    let nginx = Nginx::start(&program, [(a.ws, a.http), (b.ws, b.http)]);
    let through = socketio_url(nginx.ws);
    // Sticky by client address sends every client of this machine to one node; a client
    // connected to each node directly next to them makes sure one pair spans two nodes.
    let runs = [
        ["default".to_string(), through.clone(), through.clone()],
        ["default".to_string(), through.clone(), socketio_url(a.ws)],
        ["default".to_string(), socketio_url(b.ws), through.clone()],
        ["polling".to_string(), through.clone(), through.clone()],
    ];
    for args in &runs {
        Client::Node.run("polling_client", args).await;
    }
    Client::Python
        .run("polling_client", &[through.clone(), through.clone()])
        .await;
    // A default-options client that loses its transport comes back through nginx (to the node
    // its address sticks to) with its session.
    let recovering = [through.clone(), through, "same".into(), "default".into()];
    Client::Node.run("recovery_client", &recovering).await;
    let log = nginx.error_log();
    assert!(!log.contains("[error]"), "nginx logged errors:\n{log}");
}
