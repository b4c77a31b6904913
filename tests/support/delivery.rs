//! What a client receives, told apart: a message, the end of the connection, or silence.
//!
//! "Got nothing" is only evidence while the connection is alive: a client whose connection was
//! closed (or failed) also receives no message. So [`assert_silent`] fails on a close or an
//! error, and after its quiet window proves the connection alive with a ping the server must
//! answer; the server writes to a connection in order, so a pong with the probe's payload also
//! proves nothing else was already on its way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use ws_core::testing::TestClient;

/// How long a client waits for a message it expects.
pub const EXPECT: Duration = Duration::from_secs(5);
/// How long a client must stay quiet in [`assert_silent`] before its liveness probe.
pub const QUIET: Duration = Duration::from_millis(300);
/// How long the liveness probe waits for its pong.
pub const PROBE: Duration = Duration::from_secs(5);

/// What came next on a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A text or binary message.
    Message(Message),
    /// The connection ended: with a close frame (`Some`), or without one (`None`).
    Closed(Option<CloseFrame>),
    /// The connection failed (a protocol or I/O error).
    Failed(String),
    /// Nothing within the wait; the connection may or may not be alive.
    Silent,
}

/// The next event on `client` within `wait`; pings (answered by the client itself) and pongs are
/// skipped.
pub async fn next_event(client: &mut TestClient, wait: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, client.stream().next()).await {
            Err(_) => return Next::Silent,
            Ok(None) => return Next::Closed(None),
            Ok(Some(Err(error))) => return Next::Failed(error.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(frame)))) => return Next::Closed(frame),
            Ok(Some(Ok(message))) => return Next::Message(message),
        }
    }
}

/// The next message of `client`, which must come within [`EXPECT`]; panics on a close, an error
/// or silence, naming `who`.
pub async fn expect_message(client: &mut TestClient, who: &str) -> Message {
    match next_event(client, EXPECT).await {
        Next::Message(message) => message,
        Next::Silent => panic!("{who} got no message within {EXPECT:?}"),
        other => panic!("{who} expected a message; the connection ended instead: {other:?}"),
    }
}

/// Asserts `client` gets `expected` and nothing more: no other message within [`QUIET`], and
/// the connection still alive after it (see [`assert_silent`]).
pub async fn assert_exactly_once(client: &mut TestClient, expected: &str, who: &str) {
    let got = expect_message(client, &format!("{who} (waiting for {expected:?})")).await;
    assert_eq!(got, Message::text(expected), "{who} got the wrong message");
    assert_silent(client, &format!("{who}, after {expected:?} (exactly once)")).await;
}

/// Asserts `client` gets nothing within [`QUIET`] and is alive afterwards: it stays connected
/// and the server answers a ping. A message, a close or an error fails, naming `who`.
pub async fn assert_silent(client: &mut TestClient, who: &str) {
    match next_event(client, QUIET).await {
        Next::Silent => {}
        Next::Message(message) => panic!("{who} should have got nothing, got {message:?}"),
        other => panic!("{who} should have stayed connected and quiet; instead: {other:?}"),
    }
    assert_alive(client, who).await;
}

static PROBES: AtomicU64 = AtomicU64::new(0);

/// Asserts the server still serves `client`: a ping with a unique payload is answered with its
/// pong within [`PROBE`], and nothing but pings and pongs arrives before it.
pub async fn assert_alive(client: &mut TestClient, who: &str) {
    let payload = format!("alive? {}", PROBES.fetch_add(1, Ordering::Relaxed)).into_bytes();
    client
        .stream()
        .send(Message::Ping(payload.clone().into()))
        .await
        .unwrap_or_else(|e| panic!("{who}: the liveness ping could not be sent: {e}"));
    let deadline = tokio::time::Instant::now() + PROBE;
    loop {
        let next = tokio::time::timeout_at(deadline, client.stream().next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{who}: no pong to the liveness ping within {PROBE:?}: the connection is dead"
                )
            });
        match next {
            Some(Ok(Message::Pong(got))) if got.as_ref() == payload.as_slice() => return,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                panic!("{who}: closed ({frame:?}) instead of answering the liveness ping")
            }
            Some(Ok(message)) => {
                panic!("{who} should have got nothing, got {message:?} before the liveness pong")
            }
            Some(Err(error)) => panic!(
                "{who}: the connection failed ({error}) instead of answering the liveness ping"
            ),
            None => panic!("{who}: the connection ended instead of answering the liveness ping"),
        }
    }
}
