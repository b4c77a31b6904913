//! End-to-end tests of the `ws-cli` binary against its own baseline echo server.
//!
//! Every child process is killed on drop and every wait is bounded, so a hung
//! server or client fails the test instead of hanging the suite.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The baseline echo server on an ephemeral port, killed when dropped.
struct EchoServer {
    child: Child,
    url: String,
}

impl EchoServer {
    fn start() -> Self {
        Self::start_command("bench-baseline-server")
    }

    /// One of the hidden baseline servers, by subcommand.
    fn start_command(subcommand: &str) -> Self {
        let mut child = Command::new(BIN)
            .args([subcommand, "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn echo server");
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = mpsc::channel();
        // A thread because reading a pipe cannot time out; it ends with the child.
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self {
            child,
            url: String::new(),
        };
        let line = rx
            .recv_timeout(STARTUP_TIMEOUT)
            .expect("server printed its address in time");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from server: {line:?}"));
        server.url = format!("ws://{addr}/");
        server
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `stdin` piped in, killing it if it outlives `RUN_TIMEOUT`.
fn run(args: &[&str], stdin: &str) -> Finished {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ws-cli");
    let mut input = child.stdin.take().expect("child stdin");
    // A client that fails fast (e.g. refused) may exit before reading its input.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let stdout = drain(child.stdout.take().expect("child stdout"));
    let stderr = drain(child.stderr.take().expect("child stderr"));

    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ws-cli {args:?} did not finish within {RUN_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe on its own thread so a chatty child can never block on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

fn json(finished: &Finished) -> serde_json::Value {
    serde_json::from_str(finished.stdout.trim()).unwrap_or_else(|err| {
        panic!(
            "stdout is not one JSON object ({err}): {:?}\nstderr: {}",
            finished.stdout, finished.stderr
        )
    })
}

#[test]
fn client_sends_piped_lines_and_prints_echoes() {
    let server = EchoServer::start();
    let out = run(&["client", &server.url], "hello\n");

    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.contains(&"> hello"), "stdout: {:?}", out.stdout);
    assert!(lines.contains(&"< hello"), "stdout: {:?}", out.stdout);
    assert_eq!(
        lines.last(),
        Some(&"closed: 1000"),
        "stdout: {:?}",
        out.stdout
    );
}

#[test]
fn client_exec_sends_messages_and_waits_for_replies() {
    let server = EchoServer::start();
    let args = [
        "client",
        &server.url,
        "--exec",
        "one",
        "--exec",
        "two",
        "--wait-ms",
        "300",
    ];
    let out = run(&args, "");

    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let received: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.starts_with("< "))
        .collect();
    assert_eq!(received, ["< one", "< two"], "stdout: {:?}", out.stdout);
}

/// A one-shot server that answers the first message with a binary frame and
/// then closes with an application code, to see how the client reports both.
fn spawn_closing_server() -> (String, thread::JoinHandle<()>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("addr"));
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let serve = async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(stream)
                .await
                .expect("handshake");
            let _ = ws.next().await;
            let data: Vec<u8> = (0..40).collect();
            ws.send(Message::binary(data)).await.expect("send binary");
            let frame = CloseFrame {
                code: CloseCode::from(4000),
                reason: "bye".into(),
            };
            ws.send(Message::Close(Some(frame)))
                .await
                .expect("send close");
            while ws.next().await.is_some() {}
        };
        let _ = runtime.block_on(async { tokio::time::timeout(RUN_TIMEOUT, serve).await });
    });
    (url, handle)
}

#[test]
fn client_reports_binary_and_abnormal_close_code() {
    let (url, server) = spawn_closing_server();
    let out = run(&["client", &url, "--exec", "go", "--wait-ms", "5000"], "");
    server.join().expect("server thread");

    assert_eq!(out.status.code(), Some(3), "stderr: {}", out.stderr);
    let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let expected = [
        "> go",
        &format!("< [binary 40 bytes] {hex}..."),
        "closed: 4000 bye",
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, expected, "stderr: {}", out.stderr);
}

#[test]
fn client_reports_refused_connection_on_one_line() {
    // Bind then release a port so nothing listens on it.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe port");
        listener.local_addr().expect("probe addr").port()
    };
    let out = run(&["client", &format!("ws://127.0.0.1:{port}/")], "hello\n");

    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {:?}", out.stderr);
    assert!(lines[0].starts_with("error: "), "stderr: {:?}", out.stderr);
    assert!(lines[0].contains("refused"), "stderr: {:?}", out.stderr);
}

/// Runs `bench` with `args` and checks it verified at least `at_least` echoes and saw no error.
fn verified_run(args: &[&str], at_least: u64) -> serde_json::Value {
    let out = run(args, "");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let report = json(&out);
    let verified = report["messages"].as_u64().expect("messages");
    assert!(verified >= at_least, "{report}");
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    report
}

#[test]
fn bench_json_reports_verified_messages() {
    let server = EchoServer::start();
    let args = [
        "bench",
        &server.url,
        "--secs",
        "1",
        "--conns",
        "2",
        "--inflight",
        "4",
        "--size",
        "64",
        "--json",
    ];
    let report = verified_run(&args, 1);
    assert_eq!(report["mode"], "throughput");
    assert_eq!(report["conns_established"].as_u64(), Some(2), "{report}");
    assert!(
        report["latency_us"]["p50"].as_f64().expect("p50") > 0.0,
        "{report}"
    );
}

#[test]
fn bench_binary_payloads_verify_too() {
    let server = EchoServer::start();
    let args = [
        "bench",
        &server.url,
        "--secs",
        "0.5",
        "--conns",
        "1",
        "--inflight",
        "2",
        "--size",
        "300",
        "--binary",
        "--json",
    ];
    verified_run(&args, 1);
}

#[test]
fn bench_handshakes_and_idle_modes_report() {
    let server = EchoServer::start();
    let out = run(
        &[
            "bench",
            &server.url,
            "--handshakes",
            "--conns",
            "2",
            "--secs",
            "0.5",
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let report = json(&out);
    assert_eq!(report["mode"], "handshakes");
    assert!(
        report["handshakes"].as_u64().expect("handshakes") > 0,
        "{report}"
    );

    let out = run(
        &[
            "bench",
            &server.url,
            "--idle",
            "20",
            "--secs",
            "0.5",
            "--json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let report = json(&out);
    assert_eq!(report["mode"], "idle");
    assert_eq!(report["established"].as_u64(), Some(20), "{report}");
    assert_eq!(report["open_at_end"].as_u64(), Some(20), "{report}");
}

#[test]
fn bench_fanout_times_every_broadcast_to_every_member() {
    let server = EchoServer::start_command("bench-baseline-fanout-server");
    let args = [
        "bench",
        &server.url,
        "--fanout",
        "50",
        "--broadcasts",
        "10",
        "--json",
    ];
    let out = run(&args, "");

    assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
    let report = json(&out);
    assert_eq!(report["mode"], "fanout");
    assert_eq!(report["members"].as_u64(), Some(50), "{report}");
    assert_eq!(report["broadcasts"].as_u64(), Some(10), "{report}");
    let p50 = report["last_delivery_us"]["p50"].as_f64().expect("p50");
    assert!(p50 > 0.0, "{report}");
}

#[test]
fn bench_fails_cleanly_when_nothing_listens() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe port");
        listener.local_addr().expect("probe addr").port()
    };
    let url = format!("ws://127.0.0.1:{port}/");
    let out = run(&["bench", &url, "--secs", "1", "--json"], "");

    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with("error: "),
        "stderr: {:?}",
        out.stderr
    );
}

/// How the hand-made echo server below strays from a plain echo.
#[derive(Clone, Copy)]
struct Twists {
    /// Sends `Opened` before any echo.
    greeting: bool,
    /// Puts `Recv: ` in front of every echo.
    prefix: bool,
    /// Splits every echo into two frames, and pings before every fourth.
    fragment_and_ping: bool,
    /// Changes one byte of every Nth echo.
    corrupt_every: Option<u64>,
}

/// An echo server on a thread, serving every connection until the test ends,
/// that bends the echo as `twists` says: what `bench` must verify or refuse.
fn spawn_twisted_echo(twists: Twists) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("addr"));
    listener.set_nonblocking(true).expect("nonblocking");
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let serve = async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    if twists.greeting && ws.send(Message::text("Opened")).await.is_err() {
                        return;
                    }
                    let mut count = 0u64;
                    while let Some(Ok(message)) = ws.next().await {
                        let Message::Text(text) = message else {
                            continue;
                        };
                        count += 1;
                        let mut echo = if twists.prefix {
                            format!("Recv: {text}").into_bytes()
                        } else {
                            text.as_bytes().to_vec()
                        };
                        if twists
                            .corrupt_every
                            .is_some_and(|every| count.is_multiple_of(every))
                        {
                            let last = echo.len() - 1;
                            echo[last] = b'!';
                        }
                        let sent = if twists.fragment_and_ping {
                            let rest = echo.split_off(echo.len() / 2);
                            let text = OpCode::Data(Data::Text);
                            let more = OpCode::Data(Data::Continue);
                            let ping = count.is_multiple_of(4);
                            async {
                                if ping {
                                    ws.feed(Message::Ping(b"are you there".to_vec().into()))
                                        .await?;
                                }
                                ws.feed(Message::Frame(Frame::message(echo, text, false)))
                                    .await?;
                                ws.send(Message::Frame(Frame::message(rest, more, true)))
                                    .await
                            }
                            .await
                        } else {
                            let text = String::from_utf8(echo).expect("ASCII echo");
                            ws.send(Message::text(text)).await
                        };
                        if sent.is_err() {
                            return;
                        }
                    }
                });
            }
        };
        runtime.block_on(async {
            let _ = tokio::time::timeout(RUN_TIMEOUT, serve).await;
        });
    });
    url
}

#[test]
fn bench_verifies_greetings_prefixes_fragments_and_answers_pings() {
    let url = spawn_twisted_echo(Twists {
        greeting: true,
        prefix: true,
        fragment_and_ping: true,
        corrupt_every: None,
    });
    let args = [
        "bench",
        &url,
        "--secs",
        "0.5",
        "--conns",
        "3",
        "--inflight",
        "8",
        "--expect-prefix",
        "Recv: ",
        "--skip-first",
        "1",
        "--json",
    ];
    verified_run(&args, 100);
}

#[test]
fn bench_counts_every_corrupted_echo() {
    let url = spawn_twisted_echo(Twists {
        greeting: false,
        prefix: false,
        fragment_and_ping: false,
        corrupt_every: Some(10),
    });
    let args = [
        "bench",
        &url,
        "--secs",
        "0.5",
        "--conns",
        "1",
        "--inflight",
        "4",
        "--json",
    ];
    let out = run(&args, "");

    assert_eq!(out.status.code(), Some(3), "stderr: {}", out.stderr);
    let report = json(&out);
    let verified = report["messages"].as_u64().expect("messages");
    let mismatches = report["mismatches"].as_u64().expect("mismatches");
    // One in ten echoes is wrong. Mismatches are counted from the first echo
    // to the last, verified echoes only inside the measured window, so the
    // window's edges may shift the ratio by a few messages in flight.
    assert!(verified > 100, "{report}");
    let expected = (verified + mismatches) / 10;
    assert!(
        mismatches.abs_diff(expected) <= 8,
        "expected ~{expected} mismatches: {report}"
    );
}

#[test]
fn help_of_new_every_generator_dev_and_client_shows_examples() {
    for command in ["new", "gen:controller", "dev", "client"] {
        let help = Command::new(BIN)
            .args([command, "--help"])
            .output()
            .expect("run --help");
        assert!(help.status.success(), "{command} --help");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains("Examples:\n  ws-cli "),
            "{command} --help shows no example:\n{text}"
        );
    }
}
