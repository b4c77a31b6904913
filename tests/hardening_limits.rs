//! Every limit of `[servers.settings]`, each crossed by exactly one (byte, connection, ...):
//! message and frame size (1009), max connections (503), handshake timeout (slowloris, 408),
//! request head size (431), idle timeout with server pings (dropped without a pong), and the
//! bounded outbound queue with both backpressure policies.

#[path = "hardening_support.rs"]
mod raw;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use raw::{
    BINARY, CONT, Harness, PING, PONG, RawClient, TEXT, encode, http_exchange, upgrade_request,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_core::prelude::*;
use ws_core::{BackpressurePolicy, ServerSettings};

#[test]
fn the_documented_defaults_hold() {
    let d = ServerSettings::default();
    assert_eq!(d.max_message_size, 1 << 20);
    assert_eq!(d.max_frame_size, 1 << 20);
    assert_eq!(d.max_connections, 50_000);
    assert_eq!(d.handshake_timeout_ms, 10_000);
    assert_eq!(d.max_header_bytes, 16 * 1024);
    assert_eq!(d.ping_interval_ms, 30_000);
    assert_eq!(d.outbound_queue_bytes, 1 << 20);
    assert_eq!(d.backpressure, BackpressurePolicy::Reject);
    assert_eq!(d.close_timeout_ms, 3_000);
    assert!(d.allowed_origins.is_empty());
    assert!(d.tls.is_none());
}

#[tokio::test]
async fn a_message_at_the_limit_is_echoed_and_one_byte_more_closes_1009() {
    let mut h = Harness::start("max_message_size = 1024\nmax_frame_size = 1024").await;
    let mut client = h.client().await;
    let at_limit = vec![b'a'; 1024];
    client.send(true, TEXT, &at_limit).await;
    assert_eq!(client.read_data().await.payload, at_limit);
    // The same size in fragments, then one byte over in fragments.
    client.send(false, BINARY, &[1; 512]).await;
    client.send(true, CONT, &[2; 512]).await;
    assert_eq!(client.read_data().await.payload.len(), 1024);
    client.send(false, BINARY, &[1; 512]).await;
    client.send(true, CONT, &[2; 513]).await;
    client.expect_close(1009).await;
    assert_eq!(h.on_close().await.code, 1009);

    let mut client = h.client().await;
    client.send(true, TEXT, &[b'a'; 1025]).await;
    client.expect_close(1009).await;
    assert_eq!(h.on_close().await.code, 1009);
    h.stop().await;
}

#[tokio::test]
async fn a_frame_at_the_limit_is_accepted_and_one_byte_more_closes_1009() {
    let mut h = Harness::start("max_message_size = 1000\nmax_frame_size = 100").await;
    let mut client = h.client().await;
    client.send(true, BINARY, &[7; 100]).await;
    assert_eq!(client.read_data().await.payload, vec![7; 100]);
    // Ten frames at the frame limit make a message at the message limit.
    client.send(false, TEXT, &[b'x'; 100]).await;
    for _ in 0..8 {
        client.send(false, CONT, &[b'x'; 100]).await;
    }
    client.send(true, CONT, &[b'x'; 100]).await;
    assert_eq!(client.read_data().await.payload.len(), 1000);
    client.send(true, BINARY, &[7; 101]).await;
    client.expect_close(1009).await;
    assert_eq!(h.on_close().await.code, 1009);
    h.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_on_its_header_alone() {
    // The payload is never sent: the server must not wait for (or buffer) it.
    let mut h = Harness::start("max_message_size = 1000\nmax_frame_size = 1000").await;
    let mut client = h.client().await;
    let frame = encode(true, 0, BINARY, &vec![0; 1_000_000], true);
    client.send_raw(&frame[..14]).await;
    client.expect_close(1009).await;
    assert_eq!(h.on_close().await.code, 1009);
    h.stop().await;
}

#[tokio::test]
async fn one_connection_over_the_limit_gets_503() {
    let h = Harness::start("max_connections = 2").await;
    let mut first = h.client().await;
    let _second = h.client().await;
    let refused = RawClient::connect_with(h.addr, "/", "")
        .await
        .err()
        .expect("a third connection was accepted");
    assert_eq!(refused.status, 503);
    assert!(
        refused.body.contains("too many connections"),
        "body {:?}",
        refused.body
    );
    assert_eq!(refused.header("Retry-After"), Some("1"));

    // One leaves; its slot is free again once its task has ended.
    first
        .send(true, raw::CLOSE, &raw::close_payload(1000, ""))
        .await;
    first.read_frame().await;
    first.expect_eof().await;
    let deadline = Instant::now() + raw::WAIT;
    let _third = loop {
        match RawClient::connect_with(h.addr, "/", "").await {
            Ok(client) => break client,
            Err(r) if r.status == 503 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(r) => panic!("no slot freed: {r:?}"),
        }
    };
    let refused = RawClient::connect_with(h.addr, "/", "")
        .await
        .err()
        .expect("over the limit again");
    assert_eq!(refused.status, 503);
    h.stop().await;
}

#[tokio::test]
async fn a_slow_upgrade_request_gets_408_at_the_handshake_timeout() {
    let h = Harness::start("handshake_timeout_ms = 300").await;
    // Slowloris: a header line every 100 ms never finishes the head in time.
    let started = Instant::now();
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("send");
    let (mut rd, mut wr) = stream.split();
    let mut response = Vec::new();
    let read = rd.read_to_end(&mut response);
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if wr
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = read => {}
        _ = trickle => {}
        _ = tokio::time::sleep(Duration::from_secs(3)) => panic!("no answer to a slowloris client"),
    }
    let elapsed = started.elapsed();
    let response = raw::parse_response(&response);
    assert_eq!(response.status, 408, "{response:?}");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2),
        "cut after {elapsed:?}"
    );

    // A silent connection is cut too.
    let started = Instant::now();
    let mut silent = TcpStream::connect(h.addr).await.expect("connect");
    let mut answer = Vec::new();
    tokio::time::timeout(raw::WAIT, silent.read_to_end(&mut answer))
        .await
        .expect("silent client kept")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(2));

    // A prompt one is not.
    let _ok = h.client().await;
    h.stop().await;
}

/// An upgrade request of exactly `len` bytes, padded with a header.
fn padded_upgrade(addr: SocketAddr, len: usize) -> String {
    let base = upgrade_request(addr, "/", "X-Pad: \r\n").len();
    assert!(len >= base);
    upgrade_request(addr, "/", &format!("X-Pad: {}\r\n", "a".repeat(len - base)))
}

#[tokio::test]
async fn a_request_head_at_the_limit_upgrades_and_one_byte_more_gets_431() {
    let h = Harness::start("max_header_bytes = 1024").await;
    let at_limit = padded_upgrade(h.addr, 1024);
    assert_eq!(at_limit.len(), 1024);
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    stream.write_all(at_limit.as_bytes()).await.expect("send");
    let mut head = [0u8; 12];
    tokio::time::timeout(raw::WAIT, stream.read_exact(&mut head))
        .await
        .expect("answer")
        .expect("read");
    assert_eq!(&head, b"HTTP/1.1 101");

    let over = padded_upgrade(h.addr, 1025);
    let response = http_exchange(h.addr, over.as_bytes()).await;
    assert_eq!(response.status, 431, "{response:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_dropped() {
    let mut h = Harness::start("ping_interval_ms = 200").await;
    let started = Instant::now();
    let mut silent = h.client().await;
    let ping = silent.read_frame().await;
    assert_eq!(ping.opcode, PING);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "pinged after {:?}",
        started.elapsed()
    );
    assert!(
        silent.closed_within(Duration::from_secs(2)).await,
        "a client that never answered was kept"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    let info = h.on_close().await;
    assert_eq!(info.code, 1006);
    assert!(info.reason.contains("no pong"), "{info:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays() {
    let h = Harness::start("ping_interval_ms = 100").await;
    let mut client = h.client().await;
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(800);
    while Instant::now() < until {
        let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), client.read_frame()).await
        else {
            continue;
        };
        assert_eq!(frame.opcode, PING, "unexpected {frame:?}");
        client.send(true, PONG, &frame.payload).await;
        pings += 1;
    }
    assert!(pings >= 2, "only {pings} pings in 800 ms");
    client.send(true, TEXT, b"alive").await;
    assert_eq!(client.read_data().await.payload, b"alive");
    h.stop().await;
}

/// Pushes 64 KiB messages to `fd` until one is refused; the bytes accepted before.
async fn push_until_refused(sender: &Sender, fd: Fd) -> (usize, SendError) {
    let chunk = vec![0u8; 64 * 1024];
    let mut accepted = 0;
    for _ in 0..4096 {
        match sender.push(fd, Message::binary(chunk.clone())).await {
            Ok(()) => accepted += chunk.len(),
            Err(e) => return (accepted, e),
        }
        // Lets the connection task move what it can into the socket, as in a real flood.
        tokio::task::yield_now().await;
    }
    panic!("256 MiB were queued for a client that reads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_rejects_pushes_with_backpressure_and_recovers() {
    let h = Harness::start("outbound_queue_bytes = 262144\nbackpressure = \"reject\"").await;
    let mut client = h.client().await;
    client.send(true, TEXT, b"ready").await;
    client.read_data().await;
    let sender = h.server.sender();
    let fd = sender.local_fds()[0];
    let (accepted, error) = push_until_refused(&sender, fd).await;
    assert_eq!(error, SendError::Backpressure(fd));
    // What the server holds is bounded by the queue; the rest sits in the kernel's buffers.
    assert!(
        accepted < 64 << 20,
        "{accepted} bytes accepted before backpressure"
    );
    assert!(
        sender.exists(fd).await.expect("exists"),
        "the reject policy keeps the connection"
    );

    // Every accepted message arrives, in order; then pushes succeed again.
    let mut received = 0;
    while received < accepted {
        let frame = client.read_data().await;
        assert_eq!(frame.opcode, BINARY);
        received += frame.payload.len();
    }
    assert_eq!(received, accepted);
    sender
        .push(fd, "after")
        .await
        .expect("push after the client caught up");
    assert_eq!(client.read_data().await.payload, b"after");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_close_policy_closes_a_slow_reader_with_1008() {
    let mut h = Harness::start("outbound_queue_bytes = 262144\nbackpressure = \"close\"").await;
    let mut client = h.client().await;
    client.send(true, TEXT, b"ready").await;
    client.read_data().await;
    let sender = h.server.sender();
    let fd = sender.local_fds()[0];
    let (_, error) = push_until_refused(&sender, fd).await;
    assert_eq!(error, SendError::Backpressure(fd));
    assert!(matches!(
        sender.push(fd, "more").await,
        Err(SendError::NotConnected(_))
    ));
    // The client reads what was already on its way, then the close.
    client.expect_close(1008).await;
    assert_eq!(h.on_close().await.code, 1008);
    assert!(!sender.exists(fd).await.expect("exists"));
    h.stop().await;
}
