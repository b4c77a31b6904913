//! The last messages of every room, sent to whoever joins.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use ws_core::component;

use crate::protocol::{ChatLine, now_ms};

/// Kept when `[app] history` is not set.
const DEFAULT_LIMIT: usize = 50;

/// The last `[app] history` lines of every room, shared by the WebSocket controller and the
/// HTTP one. In memory and per node: a cluster of chat nodes keeps one history per node.
#[component]
#[derive(Debug)]
pub(crate) struct History {
    #[value("app.history")]
    limit: Option<usize>,
    rooms: Mutex<HashMap<String, RoomLog>>,
}

#[derive(Debug, Default)]
struct RoomLog {
    next_id: u64,
    lines: VecDeque<ChatLine>,
}

impl History {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// Adds a line to `room`, giving it the room's next id and the current time.
    pub(crate) fn record(&self, room: &str, from: &str, text: &str, system: bool) -> ChatLine {
        let limit = self.limit();
        let mut rooms = self.rooms.lock();
        let log = rooms.entry(room.to_string()).or_default();
        log.next_id += 1;
        let line = ChatLine {
            id: log.next_id,
            room: room.to_string(),
            from: from.to_string(),
            text: text.to_string(),
            ts: now_ms(),
            system,
        };
        if limit > 0 {
            if log.lines.len() == limit {
                log.lines.pop_front();
            }
            log.lines.push_back(line.clone());
        }
        line
    }

    /// The lines `room` keeps, oldest first.
    pub(crate) fn lines(&self, room: &str) -> Vec<ChatLine> {
        self.rooms
            .lock()
            .get(room)
            .map(|log| log.lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(limit: usize) -> History {
        History {
            limit: Some(limit),
            rooms: Mutex::default(),
        }
    }

    #[test]
    fn keeps_the_last_n_lines_per_room_with_increasing_ids() {
        let history = history(3);
        for i in 1..=5 {
            history.record("a", "alice", &format!("m{i}"), false);
        }
        history.record("b", "bob", "only", false);
        let a: Vec<(u64, String)> = history
            .lines("a")
            .into_iter()
            .map(|l| (l.id, l.text))
            .collect();
        assert_eq!(a, [(3, "m3".into()), (4, "m4".into()), (5, "m5".into())]);
        assert_eq!(history.lines("b")[0].id, 1);
        assert!(history.lines("c").is_empty());
    }

    #[test]
    fn a_limit_of_zero_keeps_nothing_but_still_numbers_lines() {
        let history = history(0);
        assert_eq!(history.record("a", "x", "1", false).id, 1);
        assert_eq!(history.record("a", "x", "2", false).id, 2);
        assert!(history.lines("a").is_empty());
    }
}
