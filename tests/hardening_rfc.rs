//! RFC 6455 to the letter, one rule per test, with hand-built frames over a raw socket:
//! invalid UTF-8 → 1007 (also split across fragments, and before a frame is complete), reserved
//! bits and opcodes → 1002, fragmented or oversized control frames → 1002, unmasked client
//! frames → 1002, invalid close codes → 1002, pings answered between fragments, and closing
//! handshakes that end with the server closing the TCP connection.

#[path = "hardening_support.rs"]
mod raw;

use std::time::Duration;

use raw::{BINARY, CLOSE, CONT, Harness, PING, PONG, TEXT, close_payload, encode};
use ws_core::{CloseInitiator, Message};

/// Sends `bytes` on a fresh connection and expects the server to fail it with `code`.
async fn fails_with(bytes: &[u8], code: u16) {
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    client.send_raw(bytes).await;
    client.expect_close(code).await;
    assert_eq!(h.on_close().await.code, code);
    // Neither on the wire (above) nor to the handler.
    assert_eq!(
        h.dispatched(),
        vec![],
        "the offending message was dispatched"
    );
    h.stop().await;
}

#[tokio::test]
async fn text_and_binary_are_echoed_unchanged() {
    let h = Harness::start("").await;
    let mut client = h.client().await;
    client.send(true, TEXT, "héllo 𝄞".as_bytes()).await;
    let echo = client.read_data().await;
    assert_eq!((echo.opcode, echo.fin, echo.masked), (TEXT, true, false));
    assert_eq!(echo.payload, "héllo 𝄞".as_bytes());
    client.send(true, BINARY, &[0, 0xff, 0x80]).await;
    let echo = client.read_data().await;
    assert_eq!((echo.opcode, echo.payload), (BINARY, vec![0, 0xff, 0x80]));
    h.stop().await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_1007() {
    fails_with(&encode(true, 0, TEXT, b"abc\xff\xfedef", true), 1007).await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_closes_1007() {
    // The first fragment ends inside a two-byte character; the second does not finish it.
    let mut bytes = encode(false, 0, TEXT, b"ok \xce", true);
    bytes.extend(encode(true, 0, CONT, b"A", true));
    fails_with(&bytes, 1007).await;
}

#[tokio::test]
async fn a_message_ending_inside_a_character_closes_1007() {
    let mut bytes = encode(false, 0, TEXT, b"ok", true);
    bytes.extend(encode(true, 0, CONT, b"\xe2\x82", true));
    fails_with(&bytes, 1007).await;
}

#[tokio::test]
async fn invalid_utf8_fails_fast_before_the_frame_is_complete() {
    // Autobahn 6.4.3: one 1000-byte text frame; the invalid byte is sent, the rest never is.
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    let mut payload = "κόσμε".repeat(10).into_bytes();
    let invalid_at = payload.len();
    payload.extend_from_slice(b"\xf4\x90\x80\x80");
    payload.resize(1000, b'x');
    let frame = encode(true, 0, TEXT, &payload, true);
    let head = frame.len() - payload.len();
    // First the valid part: nothing happens.
    client.send_raw(&frame[..head + invalid_at]).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), client.read_frame())
            .await
            .is_err(),
        "the server answered a valid partial frame"
    );
    client
        .send_raw(&frame[head + invalid_at..head + invalid_at + 4])
        .await;
    client.expect_close(1007).await;
    assert_eq!(h.on_close().await.code, 1007);
    assert_eq!(h.dispatched(), vec![], "the invalid frame was dispatched");
    h.stop().await;
}

#[tokio::test]
async fn valid_utf8_split_inside_a_character_is_reassembled() {
    let h = Harness::start("").await;
    let mut client = h.client().await;
    let text = "a€b𝄞c".as_bytes();
    client.send(false, TEXT, &text[..2]).await; // "a" and the first byte of "€"
    client.send(false, CONT, &text[2..6]).await;
    client.send(true, CONT, &text[6..]).await;
    let echo = client.read_data().await;
    assert_eq!((echo.opcode, echo.payload.as_slice()), (TEXT, text));
    // The same character split byte by byte across reads of one frame.
    let frame = encode(true, 0, TEXT, text, true);
    for byte in &frame {
        client.send_raw(&[*byte]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(client.read_data().await.payload, text);
    h.stop().await;
}

#[tokio::test]
async fn reserved_bits_close_1002() {
    for rsv in [1, 2, 4] {
        fails_with(&encode(true, rsv, TEXT, b"hi", true), 1002).await;
    }
    fails_with(&encode(true, 1, PING, b"hi", true), 1002).await;
}

#[tokio::test]
async fn reserved_opcodes_close_1002() {
    for opcode in [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        fails_with(&encode(true, 0, opcode, b"x", true), 1002).await;
    }
}

#[tokio::test]
async fn a_fragmented_control_frame_closes_1002() {
    fails_with(&encode(false, 0, PING, b"part", true), 1002).await;
}

#[tokio::test]
async fn a_control_frame_of_125_bytes_is_fine_and_126_closes_1002() {
    let h = Harness::start("").await;
    let mut client = h.client().await;
    let payload = [b'p'; 125];
    client.send(true, PING, &payload).await;
    let pong = client.read_frame().await;
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &payload[..]));
    h.stop().await;
    fails_with(&encode(true, 0, PING, &[b'p'; 126], true), 1002).await;
    fails_with(
        &encode(true, 0, CLOSE, &close_payload(1000, &"r".repeat(124)), true),
        1002,
    )
    .await;
}

#[tokio::test]
async fn an_unmasked_client_frame_closes_1002() {
    fails_with(&encode(true, 0, TEXT, b"hello", false), 1002).await;
}

#[tokio::test]
async fn continuation_without_a_start_and_a_new_message_inside_one_close_1002() {
    fails_with(&encode(true, 0, CONT, b"orphan", true), 1002).await;
    let mut bytes = encode(false, 0, TEXT, b"first", true);
    bytes.extend(encode(true, 0, TEXT, b"second", true));
    fails_with(&bytes, 1002).await;
}

#[tokio::test]
async fn invalid_close_codes_close_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2999, 5000, 65535,
    ] {
        let mut h = Harness::start("").await;
        let mut client = h.client().await;
        client.send(true, CLOSE, &close_payload(code, "")).await;
        client.expect_close(1002).await;
        assert_eq!(h.on_close().await.code, 1002, "close code {code}");
        h.stop().await;
    }
}

#[tokio::test]
async fn a_one_byte_close_payload_closes_1002() {
    fails_with(&encode(true, 0, CLOSE, &[0x03], true), 1002).await;
}

#[tokio::test]
async fn a_close_reason_with_invalid_utf8_closes_1007() {
    let mut payload = close_payload(1000, "");
    payload.extend_from_slice(b"\xff");
    fails_with(&encode(true, 0, CLOSE, &payload, true), 1007).await;
}

#[tokio::test]
async fn valid_close_codes_are_echoed_and_the_server_closes_tcp() {
    for code in [1000, 1001, 1003, 1007, 1011, 1012, 3000, 3999, 4000, 4999] {
        let mut h = Harness::start("").await;
        let mut client = h.client().await;
        client.send(true, CLOSE, &close_payload(code, "bye")).await;
        let reply = client.read_frame().await;
        assert_eq!(reply.close_code(), Some(code), "echo of close {code}");
        // The client sends nothing more: the server must close the TCP connection first.
        client.expect_eof().await;
        let info = h.on_close().await;
        assert_eq!(
            (info.code, info.reason.as_str(), info.initiator),
            (code, "bye", CloseInitiator::Client)
        );
        assert!(info.is_clean());
        h.stop().await;
    }
}

#[tokio::test]
async fn an_empty_close_is_answered_and_reported_as_1005() {
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    client.send(true, CLOSE, &[]).await;
    let reply = client.read_frame().await;
    assert_eq!(reply.opcode, CLOSE);
    assert!(
        matches!(reply.close_code(), None | Some(1000)),
        "reply {reply:?}"
    );
    client.expect_eof().await;
    assert_eq!(h.on_close().await.code, 1005);
    h.stop().await;
}

#[tokio::test]
async fn pings_between_fragments_are_answered_with_their_payload() {
    let h = Harness::start("").await;
    let mut client = h.client().await;
    client.send(false, TEXT, b"frag1 ").await;
    client.send(true, PING, b"between").await;
    let pong = client.read_frame().await;
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (PONG, &b"between"[..])
    );
    client.send(false, CONT, b"frag2 ").await;
    client.send(true, PING, b"").await;
    let pong = client.read_frame().await;
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &b""[..]));
    client.send(true, CONT, b"frag3").await;
    let echo = client.read_data().await;
    assert_eq!(
        (echo.opcode, echo.payload.as_slice()),
        (TEXT, &b"frag1 frag2 frag3"[..])
    );
    // An unsolicited pong is ignored.
    client.send(true, PONG, b"whatever").await;
    client.send(true, TEXT, b"still here").await;
    assert_eq!(client.read_data().await.payload, b"still here");
    h.stop().await;
}

#[tokio::test]
async fn a_server_initiated_close_completes_and_the_server_closes_tcp() {
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    client.send(true, TEXT, b"hi").await;
    client.read_data().await;
    let fd = h.server.sender().local_fds()[0];
    h.server
        .sender()
        .disconnect_with(fd, 4001, "kicked")
        .await
        .expect("disconnect");
    let close = client.expect_close(4001).await;
    assert_eq!(&close.payload[2..], b"kicked");
    let info = h.on_close().await;
    assert_eq!((info.code, info.initiator), (4001, CloseInitiator::Server));
    assert!(!h.server.sender().exists(fd).await.expect("exists"));
    h.stop().await;
}

#[tokio::test]
async fn a_dropped_tcp_connection_reaches_on_close_as_1006() {
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    client.send(true, TEXT, b"hi").await;
    client.read_data().await;
    drop(client);
    let info = h.on_close().await;
    assert_eq!(
        (info.code, info.initiator),
        (1006, CloseInitiator::Transport)
    );
    assert!(!info.is_clean());
    h.stop().await;
}

#[tokio::test]
async fn frames_after_the_client_close_are_not_dispatched() {
    let mut h = Harness::start("").await;
    let mut client = h.client().await;
    // A message before the close is dispatched (and shows the recording works); the one after
    // the close, in the same write, must never reach the handler.
    let mut bytes = encode(true, 0, TEXT, b"in time", true);
    bytes.extend(encode(true, 0, CLOSE, &close_payload(1000, ""), true));
    bytes.extend(encode(true, 0, TEXT, b"too late", true));
    client.send_raw(&bytes).await;
    // The echo of "in time" may go out before the close reply or be dropped with the closing
    // queue (RFC 6455 §5.5.1 lets the server answer the close first); nothing else may come.
    let reply = loop {
        let frame = client.read_frame().await;
        match frame.opcode {
            CLOSE => break frame,
            TEXT if frame.payload == b"in time" => {}
            _ => panic!("unexpected {frame:?} after the client's close"),
        }
    };
    assert_eq!(reply.close_code(), Some(1000));
    client.expect_eof().await;
    // `on_close` runs after the read loop has ended: whatever it dispatched, it dispatched
    // before this returns.
    assert_eq!(h.on_close().await.code, 1000);
    assert_eq!(h.dispatched(), vec![Message::text("in time")]);
    h.stop().await;
}
