//! `ws-cli dev` end to end: a generated app is built and served; a broken edit prints the
//! compiler's error and keeps the old server; a fixed edit is served after a graceful restart,
//! and a stock client (Python `websockets`) connected to the old server receives close code 1001.
//!
//! The app builds in this test's cargo target dir (passed through `CARGO_TARGET_DIR`), so on a
//! warm dir only the app's own crate compiles. Every wait is bounded; children die on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");
/// The first build of the app crate on a warm target dir, on a loaded 2-core machine; a cold
/// target dir (ws-core and its dependencies) takes longer.
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Same name as `new_app.rs`'s app: both build in one target dir.
const APP: &str = "ws-cli-e2e-app";

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Same rule as `new_app.rs`: `CARGO_TARGET_DIR`, else the test binary's `target/`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir;
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("test binary inside target/<profile>/deps")
        .to_path_buf()
}

/// Lines of a child's output, collected by a thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn follow(&self, pipe: impl std::io::Read + Send + 'static) {
        let sink = self.0.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
    }

    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `found` returns `Some` on the log.
    fn wait_for<T>(&self, what: &str, timeout: Duration, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if let Some(value) = found(&text) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {timeout:?}:\n{text}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The address of the `n`th (from 1) `WebSocket Server listening at HOST:PORT` line.
fn nth_listening(log: &str, n: usize) -> Option<SocketAddr> {
    let needle = "WebSocket Server listening at ";
    let line = log.lines().filter(|l| l.contains(needle)).nth(n - 1)?;
    let rest = &line[line.find(needle)? + needle.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// A Python `websockets` client: prints every message, then `closed CODE`.
fn python_client(addr: SocketAddr) -> (Running, Log) {
    let script = r#"
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        try:
            while True:
                print(await ws.recv(), flush=True)
        except websockets.ConnectionClosed as closed:
            print("closed", closed.rcvd.code if closed.rcvd else None, flush=True)
asyncio.run(main())
"#;
    let mut child = Running(
        Command::new("python3")
            .args(["-c", script, &format!("ws://{addr}/")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 with `websockets` (pip install websockets)"),
    );
    let log = Log::default();
    log.follow(child.0.stdout.take().expect("stdout"));
    log.follow(child.0.stderr.take().expect("stderr"));
    (child, log)
}

#[test]
fn dev_serves_each_edit_and_restarts_gracefully() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tmp = TempDir(std::env::temp_dir().join(format!("ws-cli-dev-{nanos}")));
    std::fs::create_dir_all(&tmp.0).expect("temp dir");
    let created = Command::new(BIN)
        .args(["new", APP])
        .current_dir(&tmp.0)
        .output()
        .expect("ws-cli new");
    assert!(created.status.success(), "{created:?}");
    let app = tmp.0.join(APP);

    let started = Instant::now();
    let mut dev = Running(
        Command::new(BIN)
            .args(["dev", "--poll-ms", "100"])
            .current_dir(app.join("src"))
            .env("CARGO_TARGET_DIR", target_dir())
            .envs([
                ("WS_SERVER_WS_PORT", "0"),
                ("WS_SERVER_HTTP_PORT", "0"),
                ("WS_SERVER_WS_HOST", "127.0.0.1"),
                ("WS_SERVER_HTTP_HOST", "127.0.0.1"),
                ("WS_LOG_LEVEL", "info"),
                ("NO_COLOR", "1"),
            ])
            .env_remove("RUST_LOG")
            .env_remove("WS_CONFIG_DIR")
            .env_remove("WS_CLUSTER_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ws-cli dev"),
    );
    let log = Log::default();
    log.follow(dev.0.stdout.take().expect("stdout"));
    log.follow(dev.0.stderr.take().expect("stderr"));
    let first = log.wait_for("first server", BUILD_TIMEOUT, |l| nth_listening(l, 1));
    eprintln!("first build and start: {:?}", started.elapsed());

    let (_client, client_log) = python_client(first);
    client_log.wait_for("greeting", STEP_TIMEOUT, |l| {
        l.contains("Opened").then_some(())
    });

    let controller = app.join("src/controller/websocket.rs");
    let source = std::fs::read_to_string(&controller).expect("read controller");
    std::fs::write(
        &controller,
        source.replace("conn.push(\"Opened\")", "conn.push(\"Opened\""),
    )
    .expect("write");
    log.wait_for("build error", STEP_TIMEOUT, |l| {
        l.contains("[dev] build failed").then_some(())
    });
    assert!(log.text().contains("error"), "{}", log.text());
    // The old server still serves the connected client.
    assert!(
        !client_log.text().contains("closed"),
        "{}",
        client_log.text()
    );

    let edited = Instant::now();
    std::fs::write(&controller, source.replace("\"Opened\"", "\"Opened v2\"")).expect("write");
    let second = log.wait_for("restarted server", STEP_TIMEOUT, |l| nth_listening(l, 2));
    eprintln!("rebuild and restart: {:?}", edited.elapsed());
    let closed = client_log.wait_for("close of the old connection", STEP_TIMEOUT, |l| {
        l.lines()
            .find(|line| line.starts_with("closed"))
            .map(str::to_string)
    });
    assert_eq!(closed, "closed 1001");

    let (_client2, client2_log) = python_client(second);
    client2_log.wait_for("new greeting", STEP_TIMEOUT, |l| {
        l.contains("Opened v2").then_some(())
    });

    // SIGTERM stops the server and then ws-cli dev itself, cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &dev.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + STEP_TIMEOUT;
    let status = loop {
        if let Some(status) = dev.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "ws-cli dev did not stop");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}\n{}", log.text());
    client2_log.wait_for("close on stop", STEP_TIMEOUT, |l| {
        l.contains("closed 1001").then_some(())
    });
}
