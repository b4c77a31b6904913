//! Panic isolation: a panic in any handler closes that connection with 1011 (or answers 500 in
//! the handshake hook), is logged with the connection's fd, and every other connection and the
//! server go on.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ws_core::prelude::*;
use ws_core::testing::{TestClient, TestServer};

/// Everything logged by this test binary, captured once for all tests.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap_or_else(|e| e.into_inner())).to_string()
}

/// The log lines that contain `marker` as a whole word.
fn lines_with(logs: &str, marker: &str) -> Vec<String> {
    logs.lines()
        .filter(|line| line.split_whitespace().any(|word| word == marker))
        .map(str::to_string)
        .collect()
}

/// The value of field `name` in a log line of the fmt layer (`name=value`, the value ending at a
/// blank; a quoted value keeps its quotes). Exact, where `contains("fd=2")` also matched `fd=20`.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
}

/// A word no other test's panic contains: the test's name, this process, a counter.
fn marker(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "marker-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until the log holds exactly one line with `marker` and returns it.
async fn the_line_with(marker: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let lines = lines_with(&logged(), marker);
        match lines.as_slice() {
            [line] => return line.clone(),
            [] => assert!(
                std::time::Instant::now() < deadline,
                "no log line with {marker}:\n{}",
                logged()
            ),
            _ => panic!("{} log lines with {marker}: {lines:#?}", lines.len()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Echoes, and panics on demand: the message `panic <marker>`, or an `on_open` / `on_close` for
/// a connection whose path asks for it (`?panic=open|close&marker=<marker>`). The panic message
/// carries the marker, so a test finds its own panic's line in the shared log.
#[derive(Default)]
struct Fragile;

impl WebSocketHandler for Fragile {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        let marker = req.query("marker").unwrap_or_default();
        if req.query("panic").as_deref() == Some("open") {
            panic!("boom in on_open {marker}");
        }
        if req.query("panic").as_deref() == Some("close") {
            conn.context().set("panic_on_close", marker);
        }
        conn.push(format!("fd {}", conn.fd())).await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        if let Some(marker) = msg.to_text()?.strip_prefix("panic ") {
            panic!("boom in on_message {marker}");
        }
        conn.push(msg).await?;
        Ok(())
    }

    async fn on_close(&self, conn: &Connection, _close: CloseInfo) {
        if let Some(marker) = conn.context().get::<String>("panic_on_close") {
            panic!("boom in on_close {marker}");
        }
    }
}

async fn start() -> TestServer {
    logs();
    let mut app = App::new();
    app.router("ws").ws("/", Fragile);
    TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boot")
}

/// Connects and returns the client with its fd, as the server announced it.
async fn connect(server: &TestServer, path: &str) -> (TestClient, String) {
    let mut client = server.connect("ws", path).await;
    let hello = client.recv().await.expect("hello");
    let fd = hello
        .to_text()
        .expect("text")
        .trim_start_matches("fd ")
        .to_string();
    (client, fd)
}

#[test]
fn fields_match_exactly() {
    let line = "2026-01-01T00:00:00Z ERROR ws_core::connection: handler panicked; closing the \
                connection with 1011 fd=20 callback=\"on_message\" panic=boom in on_message m-1";
    assert_eq!(field(line, "fd"), Some("20"));
    // What the old `contains("fd=2")` took for a match.
    assert_ne!(field(line, "fd"), Some("2"));
    assert_eq!(field(line, "callback"), Some("\"on_message\""));
    assert_eq!(field(line, "f"), None);
    assert_eq!(lines_with(line, "m-1").len(), 1);
    assert!(lines_with(line, "m-").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_message_closes_only_that_connection_with_1011() {
    let server = start().await;
    let marker = marker("on-message");
    let (mut bystander, _) = connect(&server, "/").await;
    let (mut victim, fd) = connect(&server, "/").await;
    victim.send(format!("panic {marker}")).await;
    victim.assert_closed(1011).await;

    bystander.send("still there?").await;
    bystander.assert_push("still there?").await;
    let (mut newcomer, _) = connect(&server, "/").await;
    newcomer.send("hi").await;
    newcomer.assert_push("hi").await;

    let line = the_line_with(&marker).await;
    assert!(line.contains("handler panicked"), "{line}");
    assert_eq!(field(&line, "fd"), Some(fd.as_str()), "{line}");
    assert_eq!(field(&line, "callback"), Some("\"on_message\""), "{line}");
    assert!(line.contains(" ERROR "), "{line}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_open_closes_with_1011() {
    let server = start().await;
    let marker = marker("on-open");
    let (mut bystander, _) = connect(&server, "/").await;
    let mut victim = server
        .connect("ws", &format!("/?panic=open&marker={marker}"))
        .await;
    victim.assert_closed(1011).await;
    bystander.send("ok").await;
    bystander.assert_push("ok").await;
    let line = the_line_with(&marker).await;
    assert_eq!(field(&line, "callback"), Some("\"on_open\""), "{line}");
    assert!(field(&line, "fd").is_some(), "{line}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_close_is_logged_and_contained() {
    let server = start().await;
    let marker = marker("on-close");
    let (mut bystander, _) = connect(&server, "/").await;
    let (victim, fd) = connect(&server, &format!("/?panic=close&marker={marker}")).await;
    victim.close().await;
    let line = the_line_with(&marker).await;
    assert_eq!(field(&line, "fd"), Some(fd.as_str()), "{line}");
    assert_eq!(field(&line, "callback"), Some("\"on_close\""), "{line}");
    bystander.send("ok").await;
    bystander.assert_push("ok").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_panics_leave_the_server_serving() {
    let server = start().await;
    let (mut bystander, _) = connect(&server, "/").await;
    for _ in 0..50 {
        let (mut victim, _) = connect(&server, "/").await;
        victim.send(format!("panic {}", marker("many"))).await;
        victim.assert_closed(1011).await;
    }
    bystander.send("after 50 panics").await;
    bystander.assert_push("after 50 panics").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.sender().local_count() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} connections left",
            server.sender().local_count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}
