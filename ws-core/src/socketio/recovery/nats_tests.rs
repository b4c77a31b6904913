//! [`NatsStore`] against the NATS (with JetStream) at 127.0.0.1:4222, each test under a cluster
//! prefix of its own.

use std::time::Duration;

use super::{NatsStore, token};
use crate::config::ClusterConfig;
use crate::socketio::recovery::store::{Bounds, Since, Store};
use crate::socketio::recovery::testkit;

const SERVICE: &str = "NATS with JetStream at 127.0.0.1:4222";

/// A store under a prefix of its own, so its streams and bucket are the test's.
fn store(prefix: &str) -> NatsStore {
    let config = ClusterConfig {
        url: "nats://127.0.0.1:4222".into(),
        prefix: prefix.into(),
        ..ClusterConfig::default()
    };
    NatsStore::new(&config).unwrap()
}

/// Deletes the test's streams and its session bucket (which a test that kept no session never
/// made).
async fn clean(store: &NatsStore, streams: &[&str]) {
    let js = store.context().await.unwrap();
    for stream in streams {
        js.delete_stream(store.names(stream).0).await.unwrap();
    }
    let bucket = format!("KV_{}", store.bucket_name());
    if store.bucket.lock().await.is_some() {
        js.delete_stream(bucket).await.unwrap();
    }
}

#[test]
fn namespaces_become_distinct_valid_tokens() {
    let names = [
        "ws:sio:recovery:/",
        "ws:sio:recovery:/chat",
        "ws:sio:recovery:/chat?",
    ];
    let tokens: Vec<String> = names.iter().map(|n| token(n)).collect();
    for token in &tokens {
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_ne!(tokens[1], tokens[2]);
    let long = format!("ws:sio:recovery:/{}", "x".repeat(500));
    let other = format!("ws:sio:recovery:/{}y", "x".repeat(499));
    assert_eq!(token(&long).len(), 64);
    assert_ne!(token(&long), token(&other));
}

#[tokio::test]
async fn entries_after_an_offset_in_order_and_trimmed() {
    let prefix = testkit::unique("t");
    let store = store(&prefix);
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    testkit::entries_after_an_offset_in_order_and_trimmed(&store, "/", "/other").await;
    // `/other` was only read, never made.
    clean(&store, &["/"]).await;
}

#[tokio::test]
async fn an_offset_whose_entries_aged_out_is_kept_when_it_was_the_last() {
    let prefix = testkit::unique("t");
    let store = store(&prefix);
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let bounds = Bounds {
        max_len: 100,
        max_age: Duration::from_millis(100),
    };
    let first = store.append("/aged", "a".into(), bounds).await.unwrap();
    let last = store.append("/aged", "b".into(), bounds).await.unwrap();
    // The server expires by age about once per `max_age`.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.since("/aged", &first).await.unwrap(), Since::Unknown);
    assert_eq!(
        store.since("/aged", &last).await.unwrap(),
        Since::After(Vec::new())
    );
    clean(&store, &["/aged"]).await;
}

#[tokio::test]
async fn a_session_is_taken_once_and_expires() {
    let prefix = testkit::unique("t");
    let store = store(&prefix);
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    testkit::a_session_is_taken_once_and_expires(&store, "s").await;
    clean(&store, &[]).await;
}

#[tokio::test]
async fn two_nodes_take_a_session_once() {
    let prefix = testkit::unique("t");
    let (one, two) = (store(&prefix), store(&prefix));
    if !testkit::reachable(&one, SERVICE).await {
        return;
    }
    testkit::two_nodes_take_a_session_once(&one, &two, "s").await;
    clean(&one, &[]).await;
}

#[tokio::test]
async fn since_over_ten_thousand_entries() {
    let prefix = testkit::unique("t");
    let store = store(&prefix);
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let took = testkit::since_over_ten_thousand(&store, "/big").await;
    testkit::report(SERVICE, took);
    clean(&store, &["/big"]).await;
}

#[tokio::test]
async fn a_server_that_is_down_is_an_error_not_a_panic() {
    let config = ClusterConfig {
        url: "nats://127.0.0.1:1".into(),
        request_timeout_ms: 200,
        ..ClusterConfig::default()
    };
    // Opening connects nothing: boot does not wait for the server.
    let store = NatsStore::new(&config).unwrap();
    assert!(store.take_session("k").await.is_err());
    assert!(store.since("s", "1").await.is_err());
    assert!(
        store
            .append(
                "s",
                "e".into(),
                Bounds {
                    max_len: 1,
                    max_age: Duration::from_secs(1),
                }
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_session_bucket_widens_to_the_longest_ttl() {
    let prefix = testkit::unique("t");
    let store = store(&prefix);
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let max_age =
        |bucket: &async_nats::jetstream::kv::Store| bucket.stream.cached_info().config.max_age;
    store
        .put_session("short", "a".into(), Duration::from_secs(2))
        .await
        .unwrap();
    let bucket = store.sessions(None).await.unwrap();
    assert_eq!(max_age(&bucket), Duration::from_secs(2));
    store
        .put_session("long", "b".into(), Duration::from_secs(30))
        .await
        .unwrap();
    // A second node, with the first's narrower view, does not narrow it back.
    let other = NatsStore::new(&ClusterConfig {
        url: "nats://127.0.0.1:4222".into(),
        prefix: prefix.clone(),
        ..ClusterConfig::default()
    })
    .unwrap();
    other
        .put_session("mid", "c".into(), Duration::from_secs(10))
        .await
        .unwrap();
    let bucket = other.sessions(None).await.unwrap();
    assert_eq!(max_age(&bucket), Duration::from_secs(30));
    assert_eq!(
        store.take_session("long").await.unwrap().as_deref(),
        Some("b")
    );
    clean(&store, &[]).await;
}
