//! [`Tails`]: what this node last read of each namespace's stream, so that the clients that
//! come back to it at once — a whole node's worth after a crash or a deploy — share one read of
//! the stream (and one parse of each entry) instead of each reading it from its own offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::entry::Recorded;
use super::store::{Since, Store, StoreError};

/// How old a copy may be and still answer without a read of what came after it. A recovered
/// socket reads the stream once more after it has rejoined its rooms, so a copy this old only
/// moves entries from the first read to the second, never loses one.
const FRESH: Duration = Duration::from_millis(100);

/// Entries in the order of the stream, each after its offset.
pub(crate) type Entries = Vec<(String, Arc<Recorded>)>;

/// This node's copy of the end of one stream.
#[derive(Default)]
struct Tail {
    /// The offset the entries follow; `None` until something was read.
    start: Option<String>,
    entries: Entries,
    read_at: Option<Instant>,
}

impl Tail {
    /// Where the entries after `offset` begin, when the copy holds `offset`.
    fn position(&self, offset: &str) -> Option<usize> {
        if self.start.as_deref() == Some(offset) {
            return Some(0);
        }
        // Most offsets asked for are recent: search from the end.
        self.entries
            .iter()
            .rposition(|(at, _)| at == offset)
            .map(|i| i + 1)
    }

    fn last(&self) -> Option<&str> {
        self.entries
            .last()
            .map(|(offset, _)| offset.as_str())
            .or(self.start.as_deref())
    }

    fn extend(&mut self, entries: Vec<(String, String)>, max_len: usize) {
        self.entries.extend(parse(entries));
        if self.entries.len() > max_len {
            let dropped = self.entries.len() - max_len;
            self.start = Some(self.entries[dropped - 1].0.clone());
            self.entries.drain(..dropped);
        }
        self.read_at = Some(Instant::now());
    }
}

/// Parses stored entries; one that does not parse is skipped and logged.
pub(super) fn parse(
    entries: Vec<(String, String)>,
) -> impl Iterator<Item = (String, Arc<Recorded>)> {
    entries
        .into_iter()
        .filter_map(|(offset, entry)| match serde_json::from_str::<Recorded>(&entry) {
            Ok(recorded) => Some((offset, Arc::new(recorded))),
            Err(error) => {
                tracing::warn!(%offset, %error, "a recorded socket.io packet does not parse; skipped");
                None
            }
        })
}

/// This node's copies, one per stream.
#[derive(Default)]
pub(crate) struct Tails {
    streams: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Tail>>>>,
}

impl Tails {
    /// The entries of `stream` after `offset` that `wanted` keeps, up to the stream's end as
    /// read within [`FRESH`]; `None` when the stream no longer holds `offset`. At most
    /// `max_len` entries are kept in the copy, as in the stream.
    pub(crate) async fn after(
        &self,
        store: &dyn Store,
        stream: &str,
        offset: &str,
        max_len: usize,
        wanted: impl Fn(&Recorded) -> bool,
    ) -> Result<Option<Entries>, StoreError> {
        let tail = self
            .streams
            .lock()
            .entry(stream.to_owned())
            .or_default()
            .clone();
        // One reader per stream at a time: the others wait for its read and share it.
        let mut tail = tail.lock().await;
        let stale = tail.read_at.is_none_or(|at| at.elapsed() > FRESH);
        if let (Some(_), true) = (tail.position(offset), stale) {
            let last = tail.last().unwrap_or(offset).to_owned();
            match store.since(stream, &last).await? {
                Since::After(entries) => tail.extend(entries, max_len),
                // The copy's end left the stream (trimmed by age): start over from `offset`.
                Since::Unknown => *tail = Tail::default(),
            }
        }
        let position = match tail.position(offset) {
            Some(position) => position,
            None => match store.since(stream, offset).await? {
                Since::Unknown => return Ok(None),
                Since::After(entries) => {
                    *tail = Tail {
                        start: Some(offset.to_owned()),
                        ..Tail::default()
                    };
                    tail.extend(entries, usize::MAX);
                    // Trimmed only after the answer is taken: it needs every entry read.
                    let found = select(&tail.entries, &wanted);
                    tail.extend(Vec::new(), max_len);
                    return Ok(Some(found));
                }
            },
        };
        Ok(Some(select(&tail.entries[position..], &wanted)))
    }
}

fn select(entries: &[(String, Arc<Recorded>)], wanted: &impl Fn(&Recorded) -> bool) -> Entries {
    entries
        .iter()
        .filter(|(_, recorded)| wanted(recorded))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryStore;
    use super::super::store::Bounds;
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_len: 100,
        max_age: Duration::from_secs(60),
    };

    fn said(text: &str) -> String {
        serde_json::to_string(&Recorded::new(vec![text.into()], &[])).unwrap()
    }

    fn texts(entries: &Entries) -> Vec<String> {
        entries.iter().map(|(_, r)| r.args[0].to_string()).collect()
    }

    #[tokio::test]
    async fn readers_share_the_copy_and_still_see_what_came_later() {
        let store = MemoryStore::default();
        let tails = Tails::default();
        let mut offsets = Vec::new();
        for i in 0..5 {
            offsets.push(
                store
                    .append("s", said(&format!("m{i}")), BOUNDS)
                    .await
                    .unwrap(),
            );
        }
        let all = |_: &Recorded| true;
        let first = tails
            .after(&store, "s", &offsets[1], 100, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&first), [r#""m2""#, r#""m3""#, r#""m4""#]);
        // An earlier offset than the copy holds: read again, from it.
        let earlier = tails
            .after(&store, "s", &offsets[0], 100, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(earlier.len(), 4);
        store.append("s", said("m5"), BOUNDS).await.unwrap();
        tokio::time::sleep(FRESH + Duration::from_millis(20)).await;
        let later = tails
            .after(&store, "s", &offsets[3], 100, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&later), [r#""m4""#, r#""m5""#]);
        let only_m5 = |r: &Recorded| r.args[0] == "m5";
        let some = tails
            .after(&store, "s", &offsets[0], 100, only_m5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&some), [r#""m5""#]);
        assert!(
            tails
                .after(&store, "s", "nope", 100, all)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_copy_keeps_at_most_max_len_entries() {
        let store = MemoryStore::default();
        let tails = Tails::default();
        let mut offsets = Vec::new();
        for i in 0..10 {
            offsets.push(
                store
                    .append("s", said(&format!("m{i}")), BOUNDS)
                    .await
                    .unwrap(),
            );
        }
        let all = |_: &Recorded| true;
        let read = tails
            .after(&store, "s", &offsets[0], 3, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.len(), 9, "the answer is whole");
        // The copy holds the last 3 entries, after offsets[6].
        let copy = tails
            .after(&store, "s", &offsets[6], 3, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(texts(&copy), [r#""m7""#, r#""m8""#, r#""m9""#]);
    }
}
