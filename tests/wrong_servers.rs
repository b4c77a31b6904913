//! The suites' helpers against deliberately wrong servers: each helper that asserts something
//! does *not* happen must fail when it does. A server that echoes the offending message before
//! closing, one that closes (or hangs) where it should stay quiet, one that delivers a message and
//! then closes: each is a hand-written script on a raw socket, and each helper is shown failing on
//! it and passing on a server that behaves. Also: a skipped suite shows in a plain `cargo test`,
//! and fails under `CI=true`.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::process::Command;

use raw::{CLOSE, TEXT, close_payload, encode};
use support::delivery::{assert_exactly_once, assert_silent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use ws_core::prelude::*;
use ws_core::testing::{TestClient, TestServer};

/// What a scripted server does after the handshake, in order.
#[derive(Debug, Clone)]
enum Step {
    /// Writes these bytes (server frames: unmasked).
    Send(Vec<u8>),
    /// Ends the conversation like a server that closed: stops writing (FIN), reads until the
    /// client closes too, then drops the socket.
    Finish,
    /// Keeps the connection open and never reads or writes again: a dead server whose socket is
    /// still up.
    Hang,
}

fn text(payload: &str) -> Step {
    Step::Send(encode(true, 0, TEXT, payload.as_bytes(), false))
}

fn close(code: u16) -> Step {
    Step::Send(encode(true, 0, CLOSE, &close_payload(code, ""), false))
}

/// A server on a free port that upgrades one connection and then follows `script`.
async fn scripted(script: Vec<Step>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        upgrade(&mut socket).await;
        for step in script {
            match step {
                Step::Send(bytes) => socket.write_all(&bytes).await.expect("write"),
                Step::Finish => {
                    let _ = socket.shutdown().await;
                    // Reading until the client's FIN, so the close is orderly and not a reset.
                    let mut sink = [0u8; 4096];
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                    return;
                }
                Step::Hang => {
                    std::future::pending::<()>().await;
                }
            }
        }
    });
    addr
}

/// Reads an upgrade request and answers 101 with the right accept key.
async fn upgrade(socket: &mut TcpStream) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        socket.read_exact(&mut byte).await.expect("upgrade request");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("an ASCII request");
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .expect("Sec-WebSocket-Key");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    socket
        .write_all(response.as_bytes())
        .await
        .expect("upgrade response");
}

/// Runs `check` in a task of its own and returns whether it panicked.
async fn panics<F>(check: F) -> bool
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(check).await {
        Ok(()) => false,
        Err(error) => error.is_panic(),
    }
}

async fn client(addr: SocketAddr) -> TestClient {
    TestClient::connect(&format!("ws://{addr}/")).await
}

/// The invalid UTF-8 a server must fail with 1007 without delivering it.
fn invalid_utf8() -> Vec<u8> {
    encode(true, 0, TEXT, b"abc\xff", true)
}

#[tokio::test]
async fn expect_close_fails_on_a_server_that_echoes_before_closing() {
    let addr = scripted(vec![text("abc?"), close(1007), Step::Finish]).await;
    let mut client = raw::RawClient::connect(addr, "/").await;
    client.send_raw(&invalid_utf8()).await;
    assert!(
        panics(async move {
            client.expect_close(1007).await;
        })
        .await,
        "expect_close accepted a close that followed the offending message's echo"
    );
}

#[tokio::test]
async fn expect_close_passes_on_a_server_that_closes_at_once() {
    let addr = scripted(vec![close(1007), Step::Finish]).await;
    let mut client = raw::RawClient::connect(addr, "/").await;
    client.send_raw(&invalid_utf8()).await;
    client.expect_close(1007).await;
}

#[tokio::test]
async fn assert_silent_fails_on_a_close_instead_of_silence() {
    let addr = scripted(vec![close(1000), Step::Finish]).await;
    let mut client = client(addr).await;
    assert!(
        panics(async move { assert_silent(&mut client, "a closed client").await }).await,
        "assert_silent took a closed connection for a quiet one"
    );
}

#[tokio::test]
async fn assert_silent_fails_on_a_dead_server() {
    let addr = scripted(vec![Step::Hang]).await;
    let mut client = client(addr).await;
    assert!(
        panics(async move { assert_silent(&mut client, "a client of a dead server").await }).await,
        "assert_silent took a server that answers nothing for a quiet one"
    );
}

#[tokio::test]
async fn assert_exactly_once_fails_on_a_message_then_a_close() {
    let addr = scripted(vec![text("once"), close(1000), Step::Finish]).await;
    let mut client = client(addr).await;
    assert!(
        panics(async move { assert_exactly_once(&mut client, "once", "a client").await }).await,
        "assert_exactly_once accepted a connection closed right after the message"
    );
}

#[tokio::test]
async fn assert_exactly_once_fails_on_a_message_then_a_dead_server() {
    let addr = scripted(vec![text("once"), Step::Hang]).await;
    let mut client = client(addr).await;
    assert!(
        panics(async move { assert_exactly_once(&mut client, "once", "a client").await }).await,
        "assert_exactly_once accepted a server that died after the message"
    );
}

#[tokio::test]
async fn assert_exactly_once_fails_on_a_message_twice() {
    let addr = scripted(vec![text("once"), text("once"), Step::Hang]).await;
    let mut client = client(addr).await;
    assert!(
        panics(async move { assert_exactly_once(&mut client, "once", "a client").await }).await,
        "assert_exactly_once accepted a duplicate"
    );
}

/// Greets each connection with `hello`, then echoes.
struct Greeter;

impl WebSocketHandler for Greeter {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        conn.push("hello").await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}

#[tokio::test]
async fn the_delivery_helpers_pass_on_a_server_that_behaves() {
    let mut app = App::new();
    app.router("ws").ws("/", Greeter);
    let server = TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boot");
    let mut client = server.connect("ws", "/").await;
    assert_exactly_once(&mut client, "hello", "a greeted client").await;
    assert_silent(&mut client, "a greeted client").await;
    client.send("echo").await;
    assert_exactly_once(&mut client, "echo", "an echoed client").await;
    server.shutdown().await;
}

/// Skips when the probe variable is set: run as a child process by the test below.
#[test]
fn skip_probe() {
    if std::env::var_os("WS_TEST_SKIP_PROBE").is_some() {
        support::skip::skip("the probe's subject", "the probe's reason");
    }
}

/// Runs `skip_probe` alone, as a plain `cargo test` runs a test: output captured.
fn run_skip_probe(ci: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args(["--exact", "skip_probe", "--test-threads", "1"])
        .env("WS_TEST_SKIP_PROBE", "1")
        .env_remove("CI");
    if let Some(ci) = ci {
        command.env("CI", ci);
    }
    let output = command.output().expect("run the probe");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn a_skip_shows_in_a_plain_run_and_fails_under_ci() {
    let (ok, stdout, stderr) = run_skip_probe(None);
    assert!(ok, "the probe failed outside CI:\n{stdout}\n{stderr}");
    let line = "SKIPPED wrong_servers::skip_probe: the probe's reason, so the probe's subject was \
                NOT tested (1 skipped in wrong_servers so far)";
    assert!(
        stderr.contains(line),
        "the skip is not in the run's output (stdout:\n{stdout}\nstderr:\n{stderr})"
    );
    for ci in ["true", "1", "YES"] {
        let (ok, stdout, stderr) = run_skip_probe(Some(ci));
        assert!(!ok, "CI={ci}: the skip passed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("CI=true: failing instead of skipping"),
            "CI={ci}: {stdout}\n{stderr}"
        );
    }
}
