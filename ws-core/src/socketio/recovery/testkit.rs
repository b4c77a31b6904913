//! The cases every broker-backed [`Store`] passes, as `memory.rs`'s tests state them, and what a
//! test does when its broker is not there: fail under CI, skip loudly elsewhere.

use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::store::{Bounds, Since, Store};

#[path = "../../../../ws-cli/src/ci.rs"]
mod ci;

/// A name no other test run uses, so runs sharing a broker do not see each other's keys.
pub(super) fn unique(what: &str) -> String {
    format!("wstest-{what}-{:016x}", fastrand::u64(..))
}

/// Whether `store` reaches its broker; when not, fails the test under CI and otherwise says
/// on stderr (which libtest does not capture when written to directly) that nothing was tested.
pub(super) async fn reachable(store: &dyn Store, service: &str) -> bool {
    let Err(error) = store.take_session(&unique("probe")).await else {
        return true;
    };
    assert!(
        !ci::in_ci(),
        "{service} is missing: {error} (CI=true, so this fails instead of skipping)"
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a recovery store test")
        .to_string();
    let line = format!(
        "\nSKIPPED {test}: {service} is not reachable ({error}), so this store was NOT tested\n"
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// Offsets increase, `since` gives exactly the later entries in order, and offsets the stream
/// does not hold (garbage, another stream's, trimmed by `max_len`) are unknown.
pub(super) async fn entries_after_an_offset_in_order_and_trimmed(
    store: &dyn Store,
    stream: &str,
    other_stream: &str,
) {
    let bounds = Bounds {
        max_len: 10,
        max_age: Duration::from_secs(60),
    };
    let mut offsets = Vec::new();
    // Well over `max_len`: Redis trims `MAXLEN ~` by whole nodes of 100 entries.
    for i in 0..250 {
        offsets.push(store.append(stream, format!("e{i}"), bounds).await.unwrap());
    }
    let mut sorted = offsets.clone();
    sorted.sort_by_key(|offset| key(offset));
    sorted.dedup();
    assert_eq!(sorted, offsets, "offsets increase");

    assert_eq!(
        store.since(stream, &offsets[0]).await.unwrap(),
        Since::Unknown
    );
    let Since::After(after) = store.since(stream, &offsets[245]).await.unwrap() else {
        panic!("offset 245 is kept");
    };
    let entries: Vec<&str> = after.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(entries, ["e246", "e247", "e248", "e249"]);
    let got: Vec<&str> = after.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        got,
        offsets[246..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        store.since(stream, &offsets[249]).await.unwrap(),
        Since::After(Vec::new())
    );
    for garbage in ["x", "", "1-", "-1", "1-2-3", "99999999999999999999999"] {
        assert_eq!(store.since(stream, garbage).await.unwrap(), Since::Unknown);
    }
    assert_eq!(
        store.since(other_stream, &offsets[249]).await.unwrap(),
        Since::Unknown
    );
}

/// An offset's order, for the brokers' two kinds: `MS-SEQ` and a plain sequence.
fn key(offset: &str) -> (u64, u64) {
    let number = |s: &str| s.parse::<u64>().unwrap();
    match offset.split_once('-') {
        Some((ms, seq)) => (number(ms), number(seq)),
        None => (number(offset), 0),
    }
}

/// A session is taken once, and an expired one is not taken at all.
pub(super) async fn a_session_is_taken_once_and_expires(store: &dyn Store, prefix: &str) {
    let (a, b) = (format!("{prefix}:a"), format!("{prefix}:b"));
    store
        .put_session(&a, "one".into(), Duration::from_secs(60))
        .await
        .unwrap();
    store
        .put_session(&b, "two".into(), Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        store.take_session(&a).await.unwrap().as_deref(),
        Some("one")
    );
    assert_eq!(store.take_session(&a).await.unwrap(), None);
    assert_eq!(store.take_session(&b).await.unwrap(), None);
    assert_eq!(
        store
            .take_session(&format!("{prefix}:never"))
            .await
            .unwrap(),
        None
    );
}

/// Two nodes taking the same session at once: exactly one gets it, many times over.
pub(super) async fn two_nodes_take_a_session_once(one: &dyn Store, two: &dyn Store, prefix: &str) {
    for round in 0..20 {
        let key = format!("{prefix}:race{round}");
        one.put_session(&key, format!("s{round}"), Duration::from_secs(60))
            .await
            .unwrap();
        let (a, b) = tokio::join!(one.take_session(&key), two.take_session(&key));
        let got: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(got, [format!("s{round}")], "round {round}");
    }
}

/// `since` over 10,000 entries: all of them, in order, well under a second. Returns the time
/// it took, which the test prints.
pub(super) async fn since_over_ten_thousand(store: &dyn Store, stream: &str) -> Duration {
    const COUNT: usize = 10_000;
    let bounds = Bounds {
        max_len: COUNT * 2,
        max_age: Duration::from_secs(120),
    };
    let first = store.append(stream, "start".into(), bounds).await.unwrap();
    // Appended many at a time, so the test is about `since`, not about append's round trips.
    let appended: Vec<_> = futures_util::stream::iter(0..COUNT)
        .map(|i| store.append(stream, format!("{i}"), bounds))
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(appended.iter().all(Result::is_ok));
    let started = Instant::now();
    let Since::After(after) = store.since(stream, &first).await.unwrap() else {
        panic!("the first offset is kept");
    };
    let took = started.elapsed();
    assert_eq!(after.len(), COUNT);
    assert!(after.windows(2).all(|w| key(&w[0].0) < key(&w[1].0)));
    assert!(took < Duration::from_secs(1), "since() took {took:?}");
    took
}

/// Says how long `since` took, on stderr past libtest's capture.
pub(super) fn report(service: &str, took: Duration) {
    let line = format!("\n{service}: since() over 10,000 entries took {took:?}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
