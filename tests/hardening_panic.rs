//! Panic isolation: a panic in any handler closes that connection with 1011 (or answers 500 in
//! the handshake hook), is logged with the connection's fd, and every other connection and the
//! server go on.

use std::io::Write;
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

/// Echoes, and panics on demand: the message `panic`, or an `on_open` / `on_close` for a
/// connection whose path asks for it.
#[derive(Default)]
struct Fragile;

impl WebSocketHandler for Fragile {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        if req.query("panic").as_deref() == Some("open") {
            panic!("boom in on_open");
        }
        if req.query("panic").as_deref() == Some("close") {
            conn.context().set("panic_on_close", true);
        }
        conn.push(format!("fd {}", conn.fd())).await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        if msg.to_text()? == "panic" {
            panic!("boom in on_message");
        }
        conn.push(msg).await?;
        Ok(())
    }

    async fn on_close(&self, conn: &Connection, _close: CloseInfo) {
        if conn
            .context()
            .get::<bool>("panic_on_close")
            .unwrap_or(false)
        {
            panic!("boom in on_close");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_message_closes_only_that_connection_with_1011() {
    let server = start().await;
    let (mut bystander, _) = connect(&server, "/").await;
    let (mut victim, fd) = connect(&server, "/").await;
    victim.send("panic").await;
    victim.assert_closed(1011).await;

    bystander.send("still there?").await;
    bystander.assert_push("still there?").await;
    let (mut newcomer, _) = connect(&server, "/").await;
    newcomer.send("hi").await;
    newcomer.assert_push("hi").await;

    let logs = logged();
    let line = logs
        .lines()
        .find(|l| l.contains("handler panicked") && l.contains("boom in on_message"))
        .unwrap_or_else(|| panic!("the panic was not logged:\n{logs}"));
    assert!(
        line.contains(&format!("fd={fd}")),
        "the log line does not name fd {fd}: {line}"
    );
    assert!(line.contains("ERROR"), "{line}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_open_closes_with_1011() {
    let server = start().await;
    let (mut bystander, _) = connect(&server, "/").await;
    let mut victim = server.connect("ws", "/?panic=open").await;
    victim.assert_closed(1011).await;
    bystander.send("ok").await;
    bystander.assert_push("ok").await;
    assert!(logged().contains("boom in on_open"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_on_close_is_logged_and_contained() {
    let server = start().await;
    let (mut bystander, _) = connect(&server, "/").await;
    let (victim, fd) = connect(&server, "/?panic=close").await;
    victim.close().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !logged().contains("boom in on_close") {
        assert!(
            std::time::Instant::now() < deadline,
            "the on_close panic was not logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let logs = logged();
    let line = logs
        .lines()
        .find(|l| l.contains("boom in on_close"))
        .expect("line");
    assert!(line.contains(&format!("fd={fd}")), "{line}");
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
        victim.send("panic").await;
        victim.assert_closed(1011).await;
    }
    bystander.send("after 50 panics").await;
    bystander.assert_push("after 50 panics").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
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
