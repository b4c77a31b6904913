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
    // The two messages at the limit, and neither of those over it.
    assert_eq!(
        h.dispatched().len(),
        2,
        "an oversized message was dispatched"
    );
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
    assert_eq!(
        h.dispatched().len(),
        2,
        "the oversized frame was dispatched"
    );
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
    assert_eq!(h.dispatched(), vec![], "the oversized frame was dispatched");
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
        _ = tokio::time::sleep(raw::WAIT) => panic!("no answer to a slowloris client"),
    }
    let elapsed = started.elapsed();
    let response = raw::parse_response(&response);
    assert_eq!(response.status, 408, "{response:?}");
    // Not before the timeout (load only delays the cut, so this bound cannot flake), and while
    // the client is still trickling: a timeout that each header line restarted would never fire,
    // and the default one (10 s) would miss the bound of the select above.
    assert!(
        elapsed >= Duration::from_millis(300),
        "cut after {elapsed:?}, before the 300 ms handshake timeout"
    );

    // A silent connection is cut too, by this timeout and not the default one.
    let started = Instant::now();
    let mut silent = TcpStream::connect(h.addr).await.expect("connect");
    let mut answer = Vec::new();
    tokio::time::timeout(raw::WAIT, silent.read_to_end(&mut answer))
        .await
        .expect("a silent client was kept past the handshake timeout")
        .ok();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "a silent client was cut after {:?}, before the handshake timeout",
        started.elapsed()
    );

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
    // First a ping, not before a sweep could have found the client silent; then the drop.
    let ping = silent.read_frame().await;
    assert_eq!(ping.opcode, PING);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "pinged after {:?}",
        started.elapsed()
    );
    // Within a few sweeps; the default interval (30 s) would take a minute, so the bound tells
    // the setting from the default however slow the machine.
    assert!(
        silent.closed_within(raw::WAIT).await,
        "a client that never answered was kept for {:?}",
        started.elapsed()
    );
    let info = h.on_close().await;
    assert_eq!(info.code, 1006);
    assert!(info.reason.contains("no pong"), "{info:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays() {
    let h = Harness::start("ping_interval_ms = 100").await;
    let mut client = h.client().await;
    // Counted in pings, not in milliseconds: a silent client is dropped at the sweep after its
    // ping, so one that answered three of them has outlived three chances to be dropped, however
    // long a busy machine took for them.
    for _ in 0..3 {
        let frame = client.read_frame().await;
        assert_eq!(frame.opcode, PING, "unexpected {frame:?}");
        client.send(true, PONG, &frame.payload).await;
    }
    client.send(true, TEXT, b"alive").await;
    assert_eq!(client.read_data().await.payload, b"alive");
    h.stop().await;
}

/// The size of the messages [`push_until_refused`] pushes.
const CHUNK: usize = 64 * 1024;

/// Pushes [`CHUNK`]-byte messages to `fd` until one is refused; the bytes accepted before.
async fn push_until_refused(sender: &Sender, fd: Fd) -> (usize, SendError) {
    let chunk = vec![0u8; CHUNK];
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

/// The largest send buffer the kernel's autotuning gives a TCP socket (`tcp_wmem`'s maximum),
/// in bytes; Linux's default when it cannot be read.
fn tcp_send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// A raw client whose receive buffer is fixed at about `bytes` (which also turns the kernel's
/// autotuning of it off), and the size the kernel actually gave it.
async fn client_with_receive_buffer(addr: SocketAddr, bytes: u32) -> (RawClient, usize) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    let granted = socket.recv_buffer_size().expect("SO_RCVBUF") as usize;
    let stream = socket.connect(addr).await.expect("connect");
    let client = RawClient::upgrade(stream, addr, "/", "")
        .await
        .unwrap_or_else(|r| panic!("upgrade refused: {r:?}"));
    (client, granted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_rejects_pushes_with_backpressure_and_recovers() {
    const QUEUE: usize = 262_144;
    const WRITE_BUFFER: usize = 16_384;
    let h = Harness::start(&format!(
        "outbound_queue_bytes = {QUEUE}\nwrite_buffer_size = {WRITE_BUFFER}\nbackpressure = \"reject\""
    ))
    .await;
    let (mut client, receive_buffer) = client_with_receive_buffer(h.addr, 64 * 1024).await;
    client.send(true, TEXT, b"ready").await;
    client.read_data().await;
    let sender = h.server.sender();
    let fd = sender.local_fds()[0];
    let (accepted, error) = push_until_refused(&sender, fd).await;
    assert_eq!(error, SendError::Backpressure(fd));
    // What the server holds is bounded by the queue; everything else accepted sits in the
    // kernel: the server socket's send buffer (autotuned, at most `tcp_wmem`'s maximum) and the
    // client's receive buffer (fixed above, so autotuning cannot grow it to `tcp_rmem`'s
    // maximum, 32 MiB on many machines). Add one message the server may be encoding and its
    // write buffer, and nothing else can hold a byte the server accepted.
    let bound = QUEUE + CHUNK + WRITE_BUFFER + tcp_send_buffer_max() + receive_buffer;
    assert!(
        accepted <= bound,
        "{accepted} bytes accepted before backpressure, over the {bound} that the queue \
         ({QUEUE}), one message, the write buffer and the kernel's buffers can hold"
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
    client.expect_close_after_data(1008).await;
    assert_eq!(h.on_close().await.code, 1008);
    assert!(!sender.exists(fd).await.expect("exists"));
    h.stop().await;
}
