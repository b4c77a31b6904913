//! The abuse scripts of `scripts/abuse/` — written with Python's stock `websockets` client and
//! raw sockets, outside the framework — run against `examples/echo-server` (and the seed app):
//! pipelined 64 KiB messages read slowly come back whole and in order with the server's RSS
//! under the flood test's bound, a client that never reads does not grow the server, and
//! malformed upgrades get their 4xx while the server goes on upgrading.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use raw::rss_kib;
use support::{SeedProcess, Spawned, binary, workspace_root};

/// echo-server's `outbound_queue_bytes` (the production default).
const QUEUE: u64 = 1 << 20;

fn start_echo_server() -> (Spawned, SocketAddr) {
    let port = support::free_port();
    let mut command = Command::new(binary("echo-server", "echo-server"));
    command
        .current_dir(workspace_root())
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_LOG_LEVEL", "warn")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    let process = Spawned::start(command);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "echo-server did not listen:\n{}",
            process.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (process, addr)
}

/// Whether Python with `websockets` is here; a skip the run shows (a failure in CI) if not.
fn python_websockets() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import websockets"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        support::skip::skip(
            "the stock-client abuse scripts",
            "python3 with `websockets` is not installed",
        );
    }
    found
}

/// Runs `scripts/abuse/<script>` with `args`, killed after `limit`: its output and the JSON
/// line it printed.
fn run_script(script: &str, args: &[String], limit: Duration) -> (Output, serde_json::Value) {
    let mut child = Command::new("python3")
        .arg(workspace_root().join("scripts/abuse").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("script output");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let report = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "{script} printed no report within {limit:?}:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (output, report)
}

/// Samples `pid`'s RSS every 50 ms until the returned flag is cleared: (elapsed, KiB) pairs.
fn sample_rss(
    pid: u32,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<Vec<(Duration, u64)>>,
) {
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let sampler = std::thread::spawn(move || {
        let started = Instant::now();
        let mut samples = Vec::new();
        while flag.load(Ordering::Relaxed) {
            samples.push((started.elapsed(), rss_kib(pid)));
            std::thread::sleep(Duration::from_millis(50));
        }
        samples
    });
    (running, sampler)
}

#[test]
fn python_clients_pipelining_64_kib_and_reading_slowly_get_every_echo_in_order() {
    const CLIENTS: u64 = 16;
    const SIZE: u64 = 64 * 1024;
    if !python_websockets() {
        return;
    }
    let (process, addr) = start_echo_server();
    std::thread::sleep(Duration::from_millis(200));
    let baseline = rss_kib(process.pid());
    let (running, sampler) = sample_rss(process.pid());
    let args = [
        format!("ws://{addr}/"),
        format!("--clients={CLIENTS}"),
        "--messages=100".into(),
        format!("--size={SIZE}"),
        "--read-delay=0.005".into(),
    ];
    let (output, report) = run_script("slow_reader.py", &args, Duration::from_secs(90));
    running.store(false, Ordering::Relaxed);
    let peak = sampler
        .join()
        .expect("sampler")
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(baseline);
    // The flood test's bound (tests/hardening_flood.rs): per connection the outbound queue,
    // what the task took from it, the read buffer and the frame being decoded, plus slack.
    let bound = baseline + CLIENTS * (2 * QUEUE + 4 * SIZE + 64 * 1024) / 1024 + 32 * 1024;
    eprintln!(
        "slow_reader.py: {report}; echo-server RSS baseline {} MiB, peak {} MiB, bound {} MiB",
        baseline / 1024,
        peak / 1024,
        bound / 1024
    );
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report["echoes_in_order"], CLIENTS * 100);
    assert!(peak < bound, "RSS peaked at {peak} KiB, over {bound} KiB");
}

#[test]
fn a_client_that_never_reads_does_not_grow_the_server() {
    const CLIENTS: u64 = 4;
    const FRAME: u64 = 16 * 1024;
    let (process, addr) = start_echo_server();
    std::thread::sleep(Duration::from_millis(200));
    let baseline = rss_kib(process.pid());
    let (running, sampler) = sample_rss(process.pid());
    let args = [
        addr.to_string(),
        format!("--clients={CLIENTS}"),
        "--seconds=4".into(),
        format!("--frame={FRAME}"),
    ];
    let (output, report) = run_script("never_reads.py", &args, Duration::from_secs(30));
    running.store(false, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    let peak_between = |from: Duration, to: Duration| {
        samples
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|s| s.1)
            .max()
            .unwrap_or(baseline)
    };
    let first = peak_between(Duration::ZERO, Duration::from_secs(2));
    let second = peak_between(Duration::from_secs(2), Duration::from_secs(60));
    let bound = baseline + CLIENTS * (2 * QUEUE + 4 * FRAME + 64 * 1024) / 1024 + 32 * 1024;
    eprintln!(
        "never_reads.py: {report}; echo-server RSS baseline {} MiB, peak in the first 2 s {} MiB, \
         after {} MiB, bound {} MiB",
        baseline / 1024,
        first / 1024,
        second / 1024,
        bound / 1024
    );
    assert!(output.status.success(), "{report}");
    let sent: Vec<u64> = serde_json::from_value(report["sent_bytes"].clone()).expect("sent_bytes");
    assert!(
        sent.iter().all(|&s| s > QUEUE),
        "a client could not even fill its queue: {sent:?}"
    );
    assert_eq!(
        report["stalled"],
        serde_json::json!(vec![true; CLIENTS as usize]),
        "the server never stopped reading"
    );
    assert!(
        first.max(second) < bound,
        "RSS {first}/{second} KiB over {bound} KiB"
    );
    // What the RSS grows by between the halves is the queues filling up (the kernel's socket
    // buffers take the rest of what the clients wrote); the bound above is what caps it.
}

#[test]
fn malformed_upgrades_get_4xx_and_the_servers_go_on_serving() {
    let (process, addr) = start_echo_server();
    let (output, report) = run_script(
        "malformed_upgrades.py",
        &[addr.to_string(), "--rounds=3".into()],
        Duration::from_secs(60),
    );
    eprintln!("malformed_upgrades.py against echo-server: {report}");
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(process);

    let seed = SeedProcess::start(&[]);
    let (output, report) = run_script(
        "malformed_upgrades.py",
        &[seed.ws.to_string(), "--rounds=1".into()],
        Duration::from_secs(60),
    );
    eprintln!("malformed_upgrades.py against the seed app: {report}");
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
