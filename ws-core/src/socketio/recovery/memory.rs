//! [`MemoryStore`]: sessions and streams in this process, for a single node (`memory://`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::store::{Bounds, Since, Store, StoreError};

/// One stream: entries with their sequence number and when they were appended.
#[derive(Default)]
struct Stream {
    next: u64,
    entries: VecDeque<(u64, Instant, String)>,
}

impl Stream {
    fn trim(&mut self, bounds: Bounds, now: Instant) {
        while self.entries.len() > bounds.max_len {
            self.entries.pop_front();
        }
        while let Some((_, at, _)) = self.entries.front() {
            if now.duration_since(*at) <= bounds.max_age {
                break;
            }
            self.entries.pop_front();
        }
    }
}

/// Sessions and streams in this process.
#[derive(Default)]
pub(crate) struct MemoryStore {
    streams: Mutex<HashMap<String, Stream>>,
    sessions: Mutex<HashMap<String, (Instant, String)>>,
}

impl MemoryStore {
    fn since_now(&self, stream: &str, offset: &str) -> Since {
        let Ok(offset) = offset.parse::<u64>() else {
            return Since::Unknown;
        };
        let streams = self.streams.lock();
        let Some(stream) = streams.get(stream) else {
            return Since::Unknown;
        };
        // Still there: the entry itself, or the stream's last offset when nothing came after.
        let kept = stream.entries.iter().any(|(seq, ..)| *seq == offset)
            || (offset + 1 == stream.next && stream.entries.is_empty());
        if !kept {
            return Since::Unknown;
        }
        Since::After(
            stream
                .entries
                .iter()
                .filter(|(seq, ..)| *seq > offset)
                .map(|(seq, _, entry)| (seq.to_string(), entry.clone()))
                .collect(),
        )
    }
}

impl Store for MemoryStore {
    fn append<'a>(
        &'a self,
        stream: &'a str,
        entry: String,
        bounds: Bounds,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        let now = Instant::now();
        let mut streams = self.streams.lock();
        let stream = streams.entry(stream.to_owned()).or_default();
        let seq = stream.next;
        stream.next += 1;
        stream.entries.push_back((seq, now, entry));
        stream.trim(bounds, now);
        Box::pin(std::future::ready(Ok(seq.to_string())))
    }

    fn since<'a>(
        &'a self,
        stream: &'a str,
        offset: &'a str,
    ) -> BoxFuture<'a, Result<Since, StoreError>> {
        Box::pin(std::future::ready(Ok(self.since_now(stream, offset))))
    }

    fn put_session<'a>(
        &'a self,
        key: &'a str,
        session: String,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        // Expired sessions are swept here rather than by a timer: a node that stops
        // disconnecting clients stops adding sessions too.
        sessions.retain(|_, (until, _)| *until > now);
        sessions.insert(key.to_owned(), (now + ttl, session));
        Box::pin(std::future::ready(Ok(())))
    }

    fn take_session<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        let now = Instant::now();
        let session = self
            .sessions
            .lock()
            .remove(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, session)| session);
        Box::pin(std::future::ready(Ok(session)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_len: 3,
        max_age: Duration::from_secs(60),
    };

    #[tokio::test]
    async fn entries_after_an_offset_in_order_and_trimmed() {
        let store = MemoryStore::default();
        let mut offsets = Vec::new();
        for i in 0..5 {
            offsets.push(store.append("s", format!("e{i}"), BOUNDS).await.unwrap());
        }
        // e0 and e1 were trimmed: their offsets are unknown now.
        assert_eq!(store.since("s", &offsets[1]).await.unwrap(), Since::Unknown);
        let Since::After(after) = store.since("s", &offsets[2]).await.unwrap() else {
            panic!("offset 2 is kept");
        };
        let entries: Vec<&str> = after.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(entries, ["e3", "e4"]);
        assert_eq!(
            store.since("s", &offsets[4]).await.unwrap(),
            Since::After(Vec::new())
        );
        assert_eq!(store.since("s", "x").await.unwrap(), Since::Unknown);
        assert_eq!(store.since("other", "0").await.unwrap(), Since::Unknown);
    }

    #[tokio::test]
    async fn a_session_is_taken_once_and_expires() {
        let store = MemoryStore::default();
        store
            .put_session("a", "one".into(), Duration::from_secs(60))
            .await
            .unwrap();
        store
            .put_session("b", "two".into(), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            store.take_session("a").await.unwrap().as_deref(),
            Some("one")
        );
        assert_eq!(store.take_session("a").await.unwrap(), None);
        assert_eq!(store.take_session("b").await.unwrap(), None);
    }
}
