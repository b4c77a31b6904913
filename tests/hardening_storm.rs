//! Leaks: thousands of clients dropping their TCP connections without a close frame (half with
//! a FIN, half with a reset) leave no fd in the registry, no room membership and no task behind,
//! and `echo-server`'s memory returns near its baseline.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use raw::{RawClient, TEXT, rss_kib};
use support::{Spawned, binary, free_port, workspace_root};
use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// Connections per storm: 2000, fewer if the open-file limit would not hold both ends.
fn storm_size() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let clients = 2000.min(soft.saturating_sub(256) / 2);
    assert!(
        clients >= 400,
        "an open-file limit of {soft} is too low for a disconnect storm; raise `ulimit -n`"
    );
    clients
}

/// Joins every connection to a room and counts the `on_close` calls.
struct Lobby {
    closed: Arc<AtomicUsize>,
}

impl WebSocketHandler for Lobby {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        conn.join("lobby").await?;
        conn.join(&format!("own-{}", conn.fd())).await?;
        conn.context().set("payload", vec![0u8; 1024]);
        conn.push("joined").await?;
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }

    async fn on_close(&self, _conn: &Connection, close: CloseInfo) {
        // Dropped without a close frame: abnormal closure, reported, never an error.
        if close.code == 1006 && close.initiator == ws_core::CloseInitiator::Transport {
            self.closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Opens `n` upgraded connections, `batch` at a time, each having read its first message.
async fn open_clients(addr: SocketAddr, path: &str, n: usize, greet: bool) -> Vec<RawClient> {
    let mut clients = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let batch = chunk.iter().map(|_| async move {
            let mut client = RawClient::connect(addr, path).await;
            if greet {
                client.send(true, TEXT, b"hello").await;
            }
            client.read_data().await;
            client
        });
        clients.extend(futures_util::future::join_all(batch).await);
    }
    clients
}

/// Drops every client without a close frame: even ones with a FIN, odd ones with a reset.
fn drop_abruptly(clients: Vec<RawClient>) {
    for (i, client) in clients.into_iter().enumerate() {
        if i % 2 == 1 {
            client.stream.set_zero_linger().expect("SO_LINGER 0");
        }
        drop(client);
    }
}

async fn eventually(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_storm_leaves_nothing_behind() {
    let size = storm_size();
    let closed = Arc::new(AtomicUsize::new(0));
    let mut app = App::new();
    app.router("ws").ws(
        "/",
        Lobby {
            closed: closed.clone(),
        },
    );
    let server = TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boot");
    let addr = server.app().addr("ws").expect("ws");
    let sender = server.sender();
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();

    for round in 0..2 {
        let conns = open_clients(addr, "/", size, false).await;
        assert_eq!(sender.local_count(), size);
        let fds = sender.local_fds();
        assert_eq!(
            sender.room_members("lobby").await.expect("members").len(),
            size
        );
        assert!(metrics.num_alive_tasks() >= tasks_before + size);

        drop_abruptly(conns);
        eventually(
            "every connection leaving the registry",
            Duration::from_secs(20),
            async || sender.local_count() == 0,
        )
        .await;
        // A connection leaves the registry just before its `on_close` runs (so pushes to it
        // already fail there): the last callbacks may still be under way.
        eventually("every on_close call", Duration::from_secs(10), async || {
            closed.load(Ordering::Relaxed) == size * (round + 1)
        })
        .await;
        for fd in &fds {
            assert!(
                !sender.exists(*fd).await.expect("exists"),
                "{fd} still exists"
            );
            assert!(sender.rooms_of(*fd).is_empty(), "{fd} still in rooms");
        }
        assert!(
            sender
                .room_members("lobby")
                .await
                .expect("members")
                .is_empty()
        );
        assert!(
            sender
                .room_members(&format!("own-{}", fds[0]))
                .await
                .expect("members")
                .is_empty()
        );
        eventually(
            "every connection task ending",
            Duration::from_secs(10),
            async || metrics.num_alive_tasks() <= tasks_before,
        )
        .await;
    }
    // The server still serves.
    let mut client = RawClient::connect(addr, "/").await;
    assert_eq!(client.read_data().await.payload, b"joined");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_memory_returns_near_its_baseline_after_storms() {
    let size = storm_size();
    let port = free_port();
    let mut command = Command::new(binary("echo-server", "echo-server"));
    command
        .current_dir(workspace_root())
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_LOG_LEVEL", "warn")
        .env("NO_COLOR", "1");
    let process = Spawned::start(command);
    let pid = process.pid();
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

    // A first storm warms the allocator and the runtime up; the baseline is taken after it.
    drop_abruptly(open_clients(addr, "/", size, true).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = rss_kib(pid);
    let mut peaks = Vec::new();
    let mut afters = Vec::new();
    let storms: usize = std::env::var("STORMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for _ in 0..storms {
        let conns = open_clients(addr, "/", size, true).await;
        peaks.push(rss_kib(pid));
        drop_abruptly(conns);
        tokio::time::sleep(Duration::from_secs(1)).await;
        afters.push(rss_kib(pid));
    }
    let peak = peaks.iter().copied().max().unwrap_or(baseline);
    eprintln!(
        "storm: {size} connections x {storms}, echo-server RSS baseline {baseline} KiB, with the \
         connections open {peaks:?} KiB, after each storm {afters:?} KiB"
    );
    // Open connections cost memory; dropped ones give it back to the allocator, which keeps and
    // reuses it: storm after storm, RSS stays within a few MiB of the warm baseline instead of
    // ratcheting up (8 MiB over 3 x 2000 connections is 1.4 KB each).
    for after in &afters {
        assert!(
            *after <= baseline + 8 * 1024,
            "RSS {after} KiB after a storm, baseline {baseline} KiB, peak {peak} KiB: {afters:?}"
        );
    }

    let mut client = RawClient::connect(addr, "/").await;
    client.send(true, TEXT, b"after").await;
    assert_eq!(client.read_data().await.payload, b"after");
    drop(process);
}
