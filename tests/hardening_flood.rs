//! Slow consumers: clients flood `echo-server` and never read its echoes, or read them slowly.
//! Each connection's outbound queue is bounded and a handler's own replies wait for room while
//! the connection stops reading (TCP backpressure), so the server's resident memory (sampled from
//! `/proc`) stays under a bound however long the flood lasts, a slow reader gets every echo in
//! order, and the server keeps serving other clients.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use raw::{BINARY, RawClient, TEXT, encode, rss_kib};
use support::{Spawned, binary, free_port, workspace_root};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sent = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        let client = RawClient::connect(addr, "/").await;
        let (mut stopped, sent) = (stopped.clone(), sent.clone());
        flooders.push(tokio::spawn(async move {
            let mut stream = client.stream;
            let frame = encode(true, 0, BINARY, &[0x5a; FRAME], true);
            // Writes only: the echoes pile up on the server's side of this connection, until
            // the server stops reading and the write waits (then only the stop ends it).
            loop {
                tokio::select! {
                    written = stream.write_all(&frame) => {
                        if written.is_err() {
                            break;
                        }
                        sent.fetch_add(frame.len() as u64, Ordering::Relaxed);
                    }
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
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
    let _ = stop.send(true);
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
    // Every client got past its queue: the server held replies it could not write. (Past that
    // point it stops reading from the client, so how much more a client gets into the kernel's
    // buffers is up to the kernel.)
    assert!(
        sent > FLOODERS as u64 * QUEUE,
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

/// The payload of echo `index` of a slow reader's pipeline: the index, then filler.
fn numbered(index: u32, len: usize) -> Vec<u8> {
    let mut payload = vec![(index % 251) as u8; len];
    payload[..4].copy_from_slice(&index.to_be_bytes());
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_pipeline_and_read_slowly_get_every_echo_in_order() {
    const CLIENTS: usize = 16;
    const MESSAGES: u32 = 100;
    const SIZE: usize = 64 * 1024;
    let (process, addr) = start_echo_server();
    let pid = process.pid();
    echo_once(addr, "warm-up").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = rss_kib(pid);

    let peak = Arc::new(AtomicU64::new(baseline));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let raw = RawClient::connect(addr, "/").await;
        clients.push(tokio::spawn(async move {
            let (mut reader, mut writer) = raw.stream.into_split();
            // Every message is sent at once, without waiting for a single echo.
            let sending = tokio::spawn(async move {
                for index in 0..MESSAGES {
                    let frame = encode(true, 0, BINARY, &numbered(index, SIZE), true);
                    writer
                        .write_all(&frame)
                        .await
                        .expect("the server reads, eventually");
                }
                writer
            });
            for index in 0..MESSAGES {
                // Server frames are unmasked; a 64 KiB payload takes the 8-byte length form.
                let mut head = [0u8; 10];
                reader.read_exact(&mut head).await.unwrap_or_else(|e| {
                    panic!("client {client}: the connection ended before echo {index}: {e}")
                });
                assert_eq!(
                    head[0],
                    0x80 | BINARY,
                    "client {client}: echo {index} is not one binary frame"
                );
                assert_eq!(head[1], 127);
                assert_eq!(
                    u64::from_be_bytes(head[2..].try_into().expect("8 bytes")),
                    SIZE as u64
                );
                let mut payload = vec![0u8; SIZE];
                reader
                    .read_exact(&mut payload)
                    .await
                    .expect("the echo's payload");
                let got = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes"));
                assert_eq!(got, index, "client {client}: echoes out of order");
                assert!(
                    payload == numbered(index, SIZE),
                    "client {client}: echo {index} altered"
                );
                // Slower than the server writes: its replies back up to this client.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let _writer = sending.await.expect("every message was sent");
        }));
    }
    for client in clients {
        tokio::time::timeout(Duration::from_secs(120), client)
            .await
            .expect("the slow readers finished")
            .expect("a slow reader failed");
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("the sampler");
    let peak = peak.load(Ordering::Relaxed);
    // Per connection: the outbound queue, what the connection task took from it, the read
    // buffer holding one message and the frame being decoded; plus room for the allocator.
    let per_connection_kib = (2 * QUEUE + 4 * SIZE as u64 + 64 * 1024) / 1024;
    let bound = baseline + CLIENTS as u64 * per_connection_kib + 32 * 1024;
    eprintln!(
        "slow readers: {CLIENTS} clients x {MESSAGES} x {} KiB, every echo in order; echo-server RSS \
         baseline {} MiB, peak {} MiB, bound {} MiB",
        SIZE / 1024,
        baseline / 1024,
        peak / 1024,
        bound / 1024
    );
    assert!(
        peak < bound,
        "RSS peaked at {peak} KiB, over the bound of {bound} KiB"
    );
    echo_once(addr, "after the slow readers").await;
    drop(process);
}
