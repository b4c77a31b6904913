//! Slow consumers: clients flood `echo-server` and never read its echoes. Each connection's
//! outbound queue is bounded, so the server's resident memory (sampled from `/proc`) stays under
//! a bound however long the flood lasts, and the server keeps serving other clients.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use raw::{BINARY, RawClient, TEXT, encode, rss_kib};
use support::{Spawned, binary, free_port, workspace_root};
use tokio::io::AsyncWriteExt;

const FLOODERS: usize = 16;
const FRAME: usize = 16 * 1024;
const FLOOD_FOR: Duration = Duration::from_secs(5);
/// echo-server's `outbound_queue_bytes` (the production default).
const QUEUE: u64 = 1 << 20;

fn start_echo_server() -> (Spawned, SocketAddr) {
    let port = free_port();
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

async fn echo_once(addr: SocketAddr, text: &str) {
    let mut client = RawClient::connect(addr, "/flood-check").await;
    client.send(true, TEXT, text.as_bytes()).await;
    assert_eq!(client.read_data().await.payload, text.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_clients_that_never_read_keeps_memory_bounded() {
    let (process, addr) = start_echo_server();
    let pid = process.pid();
    for i in 0..20 {
        echo_once(addr, &format!("warm-up {i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = rss_kib(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        let client = RawClient::connect(addr, "/").await;
        let (stop, sent) = (stop.clone(), sent.clone());
        flooders.push(tokio::spawn(async move {
            let mut stream = client.stream;
            let frame = encode(true, 0, BINARY, &[0x5a; FRAME], true);
            // Writes only: the echoes pile up on the server's side of this connection.
            while !stop.load(Ordering::Relaxed) {
                if stream.write_all(&frame).await.is_err() {
                    break;
                }
                sent.fetch_add(frame.len() as u64, Ordering::Relaxed);
            }
            stream
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut checked_service = false;
    while started.elapsed() < FLOOD_FOR {
        tokio::time::sleep(Duration::from_millis(100)).await;
        samples.push((started.elapsed(), rss_kib(pid)));
        if !checked_service && started.elapsed() > Duration::from_secs(2) {
            // The flood does not starve anyone else.
            tokio::time::timeout(Duration::from_secs(10), echo_once(addr, "still serving"))
                .await
                .expect("echo-server stopped serving during the flood");
            checked_service = true;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let streams: Vec<_> = futures_util::future::join_all(flooders).await;
    let sent = sent.load(Ordering::Relaxed);

    let peak = samples
        .iter()
        .map(|(_, kib)| *kib)
        .max()
        .unwrap_or(baseline);
    let late_peak = samples
        .iter()
        .filter(|(t, _)| *t > FLOOD_FOR / 2)
        .map(|(_, kib)| *kib)
        .max()
        .unwrap_or(peak);
    let early_peak = samples
        .iter()
        .filter(|(t, _)| *t <= FLOOD_FOR / 2)
        .map(|(_, kib)| *kib)
        .max()
        .unwrap_or(peak);
    // Per connection: the outbound queue, what the connection task took from it, tungstenite's
    // buffers (a frame each way plus the write buffer); plus room for the allocator.
    let per_connection_kib = (2 * QUEUE + 4 * FRAME as u64 + 64 * 1024) / 1024;
    let bound = baseline + FLOODERS as u64 * per_connection_kib + 32 * 1024;
    eprintln!(
        "flood: {FLOODERS} clients sent {} MiB in {FLOOD_FOR:?} without reading; echo-server RSS baseline {} MiB, \
         peak {} MiB (first half {} MiB, second half {} MiB), bound {} MiB",
        sent >> 20,
        baseline / 1024,
        peak / 1024,
        early_peak / 1024,
        late_peak / 1024,
        bound / 1024
    );
    assert!(
        sent > 64 << 20,
        "the flood was too small to prove anything: {sent} bytes"
    );
    assert!(
        peak < bound,
        "RSS peaked at {peak} KiB, over the bound of {bound} KiB: samples {samples:?}"
    );
    // Bounded means flat: the second half of the flood does not keep growing.
    assert!(
        late_peak <= early_peak + 8 * 1024,
        "RSS still growing: {samples:?}"
    );

    drop(streams);
    tokio::time::timeout(Duration::from_secs(10), echo_once(addr, "after the flood"))
        .await
        .expect("after the flood");
    drop(process);
}
