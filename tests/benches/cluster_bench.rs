//! Cross-node push latency and throughput, on Redis and on NATS.
//!
//! ```text
//! cargo bench -p ws-tests --bench cluster_bench                       # both brokers
//! cargo bench -p ws-tests --bench cluster_bench -- redis --seconds 10 # one broker, longer
//! ```
//!
//! Starts its own `redis-server` / `nats-server -js` on free ports, boots two nodes of an echo
//! app in this process (each with its own backplane connections, exactly as two processes would
//! have), connects WebSocket clients to node B and pushes to them from node A's `Sender`:
//!
//! - **latency**: one push at a time; from the `push` call on A to the client on B holding the
//!   message (`push→client`), and the `push` call itself (request to B, B's reply: `push ack`).
//! - **throughput**: many concurrent pushers on A for a fixed time; messages the clients on B
//!   received per second.
//!
//! Both nodes, the broker and the clients share this machine's cores, so the figures are a
//! floor for separate machines, not a ceiling.

#[path = "../cluster/mod.rs"]
mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cluster::{Broker, Kind};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[derive(Default)]
struct Quiet;

impl WebSocketHandler for Quiet {}

struct Options {
    kinds: Vec<Kind>,
    seconds: u64,
    samples: usize,
    pushers: usize,
    clients: usize,
}

fn options() -> Options {
    let mut options = Options {
        kinds: Vec::new(),
        seconds: 5,
        samples: 5000,
        pushers: 64,
        clients: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "redis" => options.kinds.push(Kind::Redis),
            "nats" => options.kinds.push(Kind::Nats),
            "--seconds" => options.seconds = number("--seconds") as u64,
            "--samples" => options.samples = number("--samples"),
            "--pushers" => options.pushers = number("--pushers"),
            "--clients" => options.clients = number("--clients"),
            // cargo bench passes `--bench`.
            "--bench" => {}
            other => panic!(
                "unknown argument {other}; use: [redis] [nats] [--seconds N] [--samples N] [--pushers N] [--clients N]"
            ),
        }
    }
    if options.kinds.is_empty() {
        options.kinds = vec![Kind::Redis, Kind::Nats];
    }
    options
}

async fn node(url: &str, prefix: &str) -> TestServer {
    let config = format!(
        "{}\n[cluster]\nurl = \"{url}\"\nprefix = \"{prefix}\"\nrequest_timeout_ms = 5000\n",
        TestServer::DEFAULT_CONFIG
    );
    let mut app = App::new();
    // Not `/`: the seed controllers linked into this binary register themselves there.
    app.router("ws").ws("/bench", Quiet);
    TestServer::start(app, &config).await.expect("node boots")
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

async fn run(kind: Kind, options: &Options) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = cluster::unique_prefix("bench");
    let a = node(&broker.url(), &prefix).await;
    let b = node(&broker.url(), &prefix).await;

    // Latency: one client on B, one push at a time.
    let (mut client, fd) = cluster::connect(&b, "/bench").await;
    let sender = a.sender();
    let mut to_client = Histogram::<u64>::new(3).expect("histogram");
    let mut ack = Histogram::<u64>::new(3).expect("histogram");
    for i in 0..options.samples + options.samples / 10 {
        let started = Instant::now();
        let push = sender.push(fd, "x".repeat(32));
        let receive = async {
            loop {
                match client.stream().next().await {
                    Some(Ok(message)) if message.is_text() => return started.elapsed(),
                    Some(Ok(_)) => continue,
                    other => panic!("client lost: {other:?}"),
                }
            }
        };
        let (pushed, received) = tokio::join!(async { (push.await, started.elapsed()) }, receive);
        pushed.0.expect("push");
        // The first tenth warms connections and caches up.
        if i >= options.samples / 10 {
            let _ = to_client.record(received.as_micros() as u64);
            let _ = ack.record(pushed.1.as_micros() as u64);
        }
    }
    drop(client);

    // Throughput: many pushers on A, many clients on B, for a fixed time.
    let received = Arc::new(AtomicU64::new(0));
    let mut fds = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..options.clients {
        let (mut client, fd) = cluster::connect(&b, "/bench").await;
        fds.push(fd);
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(message)) = client.stream().next().await {
                if message.is_text() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let running = Arc::new(AtomicBool::new(true));
    let failed = Arc::new(AtomicU64::new(0));
    let mut pushers = Vec::new();
    for p in 0..options.pushers {
        let (sender, running, failed, fds) =
            (a.sender(), running.clone(), failed.clone(), fds.clone());
        pushers.push(tokio::spawn(async move {
            let payload = "y".repeat(32);
            let mut i = p;
            while running.load(Ordering::Relaxed) {
                if sender
                    .push(fds[i % fds.len()], payload.as_str())
                    .await
                    .is_err()
                {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    let before = received.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    let counted = received.load(Ordering::Relaxed) - before;
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    for pusher in pushers {
        let _ = pusher.await;
    }
    for reader in readers {
        reader.abort();
    }

    let name = match kind {
        Kind::Redis => "redis",
        Kind::Nats => "nats",
    };
    println!(
        "{name:<6} latency ({} samples, 32 B text)  push→client p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms | push ack p50 {:.3} ms  p99 {:.3} ms",
        to_client.len(),
        ms(&to_client, 0.5),
        ms(&to_client, 0.99),
        to_client.max() as f64 / 1000.0,
        ms(&ack, 0.5),
        ms(&ack, 0.99),
    );
    println!(
        "{name:<6} throughput ({} pushers on A → {} clients on B, {:.1} s)  {:.0} msg/s  ({} failed pushes)",
        options.pushers,
        options.clients,
        elapsed.as_secs_f64(),
        counted as f64 / elapsed.as_secs_f64(),
        failed.load(Ordering::Relaxed),
    );
    a.shutdown().await;
    b.shutdown().await;
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for kind in options.kinds.clone() {
            run(kind, &options).await;
        }
    });
}
