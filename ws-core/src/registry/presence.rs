//! What a presence listing and a presence notice need of this node's connections: its members of
//! a selection of rooms with their rooms and metadata, and the bus that hands notices from any
//! node to this node's listeners.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast;

use super::{ConnShared, Registry};
use crate::Fd;
use crate::cluster::MemberInfo;

/// Notices a listener may fall behind by before it misses some (it is told how many). A
/// presence notice is small; 1024 covers a burst of joins while the listener forwards them.
const NOTICES_BUFFERED: usize = 1024;

/// A notice from any node (this one included), for this node's listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// What the notice is about.
    pub(crate) topic: String,
    /// The notice, as its sender encoded it.
    pub(crate) body: Bytes,
}

/// Hands notices to every listener of this node; a notice nobody listens to is dropped.
#[derive(Debug)]
pub(crate) struct NoticeBus(broadcast::Sender<Notice>);

impl Default for NoticeBus {
    fn default() -> Self {
        Self(broadcast::channel(NOTICES_BUFFERED).0)
    }
}

impl NoticeBus {
    /// Hands `notice` to every listener; how many there were.
    pub(crate) fn send(&self, notice: Notice) -> usize {
        self.0.send(notice).unwrap_or(0)
    }

    /// A new listener, which gets every notice sent from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.0.subscribe()
    }
}

impl Registry {
    /// This node's members of any of `rooms` and of none of `except`, in fd order, each with
    /// its rooms and the JSON text (a `String`) its context holds under `meta_key`.
    pub(crate) fn describe(
        &self,
        rooms: &[String],
        except: &[String],
        meta_key: &str,
    ) -> Vec<MemberInfo> {
        let mut selected: BTreeMap<Fd, Arc<ConnShared>> = BTreeMap::new();
        for room in rooms {
            if let Some(entry) = self.rooms.get(room.as_str()) {
                selected.extend(entry.members.iter().map(|(fd, conn)| (*fd, conn.clone())));
            }
        }
        for room in except {
            if let Some(entry) = self.rooms.get(room.as_str()) {
                for fd in entry.members.keys() {
                    selected.remove(fd);
                }
            }
        }
        selected
            .into_values()
            .map(|conn| MemberInfo {
                fd: conn.fd,
                rooms: conn
                    .rooms
                    .lock()
                    .iter()
                    .map(|room| room.to_string())
                    .collect(),
                meta: conn
                    .context
                    .get_shared::<String>(meta_key)
                    .map(|meta| (*meta).clone()),
            })
            .collect()
    }

    /// Hands `notice` to this node's listeners; how many there were.
    pub(crate) fn notify(&self, notice: Notice) -> usize {
        self.notices.send(notice)
    }

    /// A new listener of the notices from every node.
    pub(crate) fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackpressurePolicy;
    use crate::ws::context::Context;
    use crate::ws::outbox::Outbox;

    fn connect(registry: &Registry, fd: u64) -> Arc<ConnShared> {
        let conn = Arc::new(ConnShared::new(
            Fd(fd),
            Outbox::new(16, BackpressurePolicy::Reject),
            Context::default(),
            Arc::from("ws"),
            Arc::from("/"),
        ));
        registry.insert(conn.clone());
        conn
    }

    #[test]
    fn a_listing_selects_rooms_minus_exceptions_with_rooms_and_meta() {
        let registry = Registry::default();
        for fd in 1..=3 {
            connect(&registry, fd);
            registry.join(Fd(fd), "a").expect("connected");
        }
        registry.join(Fd(3), "b").expect("connected");
        registry.join(Fd(2), "muted").expect("connected");
        registry
            .get(Fd(1))
            .expect("connected")
            .context
            .set("meta", r#"{"name":"ann"}"#.to_string());

        let members = registry.describe(&["a".into(), "b".into()], &["muted".into()], "meta");
        let fds: Vec<Fd> = members.iter().map(|m| m.fd).collect();
        assert_eq!(fds, [Fd(1), Fd(3)]);
        assert_eq!(members[0].meta.as_deref(), Some(r#"{"name":"ann"}"#));
        assert_eq!(members[1].meta, None);
        assert_eq!(members[1].rooms, ["a", "b"]);
        assert!(
            registry
                .describe(&["nobody".into()], &[], "meta")
                .is_empty()
        );
    }

    #[test]
    fn notices_reach_every_listener() {
        let registry = Registry::default();
        let notice = Notice {
            topic: "t".into(),
            body: Bytes::from_static(b"x"),
        };
        assert_eq!(registry.notify(notice.clone()), 0);
        let (mut one, mut two) = (registry.notices(), registry.notices());
        assert_eq!(registry.notify(notice.clone()), 2);
        assert_eq!(one.try_recv().ok(), Some(notice.clone()));
        assert_eq!(two.try_recv().ok(), Some(notice));
    }
}
