//! [`RedisStore`] against the Redis at 127.0.0.1:6379, each test under keys of its own.

use super::RedisStore;
use crate::config::ClusterConfig;
use crate::socketio::recovery::store::{Bounds, Since, Store};
use crate::socketio::recovery::testkit;

const SERVICE: &str = "Redis at 127.0.0.1:6379";

/// A store on the local Redis.
fn store() -> RedisStore {
    let config = ClusterConfig {
        url: "redis://127.0.0.1:6379".into(),
        ..ClusterConfig::default()
    };
    RedisStore::new(&config).unwrap()
}

/// Deletes the test's keys.
async fn clean(store: &RedisStore, keys: &[String]) {
    let keys = keys.to_vec();
    let deleted: Result<i64, _> = store
        .run("cleaning up", |mut conn| async move {
            redis::cmd("DEL").arg(keys).query_async(&mut conn).await
        })
        .await;
    deleted.unwrap();
}

#[tokio::test]
async fn entries_after_an_offset_in_order_and_trimmed() {
    let store = store();
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let (stream, other) = (testkit::unique("stream"), testkit::unique("other"));
    testkit::entries_after_an_offset_in_order_and_trimmed(&store, &stream, &other).await;
    clean(&store, &[stream, other]).await;
}

#[tokio::test]
async fn an_offset_whose_entries_aged_out_is_kept_when_it_was_the_last() {
    let store = store();
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let stream = testkit::unique("aged");
    let bounds = Bounds {
        max_len: 100,
        max_age: std::time::Duration::from_millis(1),
    };
    let first = store.append(&stream, "a".into(), bounds).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let last = store.append(&stream, "b".into(), bounds).await.unwrap();
    // Trim `b` by age too: what is left is an empty stream that remembers its last id.
    let _: () = store
        .run("trimming", |mut conn| {
            let stream = stream.clone();
            async move {
                redis::cmd("XTRIM")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg(0)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map(drop)
            }
        })
        .await
        .unwrap();
    assert_eq!(store.since(&stream, &first).await.unwrap(), Since::Unknown);
    assert_eq!(
        store.since(&stream, &last).await.unwrap(),
        Since::After(Vec::new())
    );
    clean(&store, &[stream]).await;
}

#[tokio::test]
async fn a_session_is_taken_once_and_expires() {
    let store = store();
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let prefix = testkit::unique("session");
    testkit::a_session_is_taken_once_and_expires(&store, &prefix).await;
    clean(&store, &[format!("{prefix}:a"), format!("{prefix}:b")]).await;
}

#[tokio::test]
async fn two_nodes_take_a_session_once() {
    let (one, two) = (store(), store());
    if !testkit::reachable(&one, SERVICE).await {
        return;
    }
    let prefix = testkit::unique("race");
    testkit::two_nodes_take_a_session_once(&one, &two, &prefix).await;
    let keys: Vec<String> = (0..20).map(|i| format!("{prefix}:race{i}")).collect();
    clean(&one, &keys).await;
}

#[tokio::test]
async fn since_over_ten_thousand_entries() {
    let store = store();
    if !testkit::reachable(&store, SERVICE).await {
        return;
    }
    let stream = testkit::unique("big");
    let took = testkit::since_over_ten_thousand(&store, &stream).await;
    testkit::report(SERVICE, took);
    clean(&store, &[stream]).await;
}

#[tokio::test]
async fn a_broker_that_is_down_is_an_error_not_a_panic() {
    let config = ClusterConfig {
        url: "redis://127.0.0.1:1".into(),
        request_timeout_ms: 200,
        ..ClusterConfig::default()
    };
    // Opening connects nothing: boot does not wait for the broker.
    let store = RedisStore::new(&config).unwrap();
    assert!(store.take_session("k").await.is_err());
    assert!(store.since("s", "1-0").await.is_err());
}
