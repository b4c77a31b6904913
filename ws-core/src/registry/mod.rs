//! Every connection this node holds, by fd, and the rooms they are in.

mod burst;
mod conn;
mod delivery;
mod presence;
mod rooms;

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use burst::Bursts;
pub(crate) use conn::{Compression, ConnShared};
pub(crate) use presence::Notice;
use presence::NoticeBus;
use rooms::{Fanout, Room};

use crate::metrics::Metrics;
use crate::ws::message::{CloseFrame, Message};
use crate::{Fd, SendError};

/// How many connections a local fan-out reached, and how many it could not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// Connections on this node that got the message queued.
    pub local: usize,
    /// Connections on this node that refused it (full queue or closing).
    pub refused: usize,
}

/// Live connections of this node.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Hashed with Fx rather than SipHash: fds are integers this node hands out, never chosen
    /// by a client, so there is no flooding to resist, and SipHash was ~60% of the instructions
    /// of a push by fd (callgrind, `/server/send`).
    connections: DashMap<Fd, Arc<ConnShared>, FxBuildHasher>,
    rooms: DashMap<Arc<str>, Room>,
    metrics: Arc<Metrics>,
    bursts: Arc<Bursts>,
    /// Notices from every node for this node's listeners (presence changes).
    notices: NoticeBus,
}

impl Registry {
    /// A registry that counts what room pushes write in `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    pub(crate) fn insert(&self, conn: Arc<ConnShared>) {
        self.connections.insert(conn.fd, conn);
    }

    /// Removes the connection and its room memberships.
    pub(crate) fn remove(&self, fd: Fd) -> Option<Arc<ConnShared>> {
        let (_, conn) = self.connections.remove(&fd)?;
        let rooms = std::mem::take(&mut *conn.rooms.lock());
        for room in rooms {
            self.leave_index(&room, fd);
        }
        Some(conn)
    }

    pub(crate) fn get(&self, fd: Fd) -> Option<Arc<ConnShared>> {
        self.connections.get(&fd).map(|c| c.clone())
    }

    /// Calls `visit` with every live connection.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&ConnShared)) {
        for conn in self.connections.iter() {
            visit(conn.value());
        }
    }

    pub(crate) fn contains(&self, fd: Fd) -> bool {
        self.connections.contains_key(&fd)
    }

    pub(crate) fn len(&self) -> usize {
        self.connections.len()
    }

    pub(crate) fn fds(&self) -> Vec<Fd> {
        let mut fds: Vec<Fd> = self.connections.iter().map(|e| *e.key()).collect();
        fds.sort_unstable();
        fds
    }

    /// Open connections per (server, route pattern), for `/metrics`.
    pub(crate) fn count_by_route(&self) -> HashMap<(Arc<str>, Arc<str>), usize> {
        let mut counts = HashMap::new();
        for conn in self.connections.iter() {
            *counts
                .entry((conn.server.clone(), conn.route.clone()))
                .or_default() += 1;
        }
        counts
    }

    pub(crate) fn push(&self, fd: Fd, message: Message) -> Result<(), SendError> {
        self.get(fd)
            .ok_or(SendError::NotConnected(fd))?
            .push(message)
    }

    pub(crate) fn close(&self, fd: Fd, frame: CloseFrame) -> Result<(), SendError> {
        self.get(fd)
            .ok_or(SendError::NotConnected(fd))?
            .close(frame)
    }

    pub(crate) fn close_all(&self, frame: &CloseFrame) {
        for conn in self.connections.iter() {
            // A connection already closing keeps its own close frame.
            let _ = conn.close(frame.clone());
        }
    }

    pub(crate) fn broadcast(&self, message: &Message, except: Option<Fd>) -> Delivery {
        let mut fanout = Fanout::new(message, self.bursts.current());
        for conn in self.connections.iter() {
            if Some(conn.fd) != except {
                fanout.push(conn.value());
            }
        }
        fanout.finish(&self.metrics, &self.bursts)
    }

    /// Adds `fd` to `room`; whether it was not a member yet.
    pub(crate) fn join(&self, fd: Fd, room: &str) -> Result<bool, SendError> {
        let conn = self.get(fd).ok_or(SendError::NotConnected(fd))?;
        let mut rooms = conn.rooms.lock();
        if rooms.iter().any(|r| &**r == room) {
            return Ok(false);
        }
        let name: Arc<str> = self
            .rooms
            .get(room)
            .map(|e| e.key().clone())
            .unwrap_or_else(|| Arc::from(room));
        rooms.push(name.clone());
        self.rooms.entry(name).or_default().add(conn.clone());
        // `remove` takes the room list under the lock held here, after taking the connection out
        // of `connections`. If it did so since the lookup above, it saw the list without this
        // room and would never leave it: the room would keep the closed connection alive.
        if !self.connections.contains_key(&fd) {
            rooms.pop();
            self.leave_index(room, fd);
            return Err(SendError::NotConnected(fd));
        }
        Ok(true)
    }

    /// Removes `fd` from `room`; whether it was a member.
    pub(crate) fn leave(&self, fd: Fd, room: &str) -> Result<bool, SendError> {
        let conn = self.get(fd).ok_or(SendError::NotConnected(fd))?;
        let mut rooms = conn.rooms.lock();
        let Some(index) = rooms.iter().position(|r| &**r == room) else {
            return Ok(false);
        };
        rooms.swap_remove(index);
        drop(rooms);
        self.leave_index(room, fd);
        Ok(true)
    }

    fn leave_index(&self, room: &str, fd: Fd) {
        let emptied = match self.rooms.get_mut(room) {
            Some(mut entry) => {
                entry.remove(fd);
                entry.members.is_empty()
            }
            None => false,
        };
        if emptied {
            self.rooms
                .remove_if(room, |_, entry| entry.members.is_empty());
        }
    }

    /// The fds in `room`, sorted.
    pub(crate) fn room_members(&self, room: &str) -> Vec<Fd> {
        self.rooms
            .get(room)
            .map(|entry| entry.members.keys().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn rooms_of(&self, fd: Fd) -> Vec<String> {
        self.get(fd)
            .map(|c| c.rooms.lock().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Queues `message` for every member of `room` but `except`. Each member gets a clone of
    /// the same payload, never a copy.
    pub(crate) fn push_room(&self, room: &str, message: &Message, except: Option<Fd>) -> Delivery {
        let Some(members) = self.room_snapshot(room) else {
            return Delivery::default();
        };
        let mut fanout = Fanout::new(message, self.bursts.current());
        for conn in members.iter() {
            if Some(conn.fd) != except {
                fanout.push(conn);
            }
        }
        fanout.finish(&self.metrics, &self.bursts)
    }

    /// The members of `room` to push to; `None` when it has none on this node.
    fn room_snapshot(&self, room: &str) -> Option<Arc<[Arc<ConnShared>]>> {
        // A shared lock is enough while the room is unchanged since the last push.
        let cached = self.rooms.get(room)?.snapshot.clone();
        if cached.is_some() {
            return cached;
        }
        Some(self.rooms.get_mut(room)?.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::config::BackpressurePolicy;
    use crate::ws::context::Context;
    use crate::ws::outbox::{Outbound, Outbox};

    fn connect(registry: &Registry, fd: u64, limit: usize) -> Arc<ConnShared> {
        let conn = Arc::new(ConnShared::new(
            Fd(fd),
            Outbox::new(limit, BackpressurePolicy::Reject),
            Context::default(),
            Arc::from("ws"),
            Arc::from("/room"),
        ));
        registry.insert(conn.clone());
        conn
    }

    fn drained(conn: &ConnShared) -> Vec<String> {
        let mut queue = VecDeque::new();
        conn.outbox.take(&mut queue);
        queue
            .into_iter()
            .map(|item| match item {
                Outbound::Message(message) => message.to_text().unwrap_or_default().to_owned(),
                Outbound::Rest(_) => "<rest of a frame>".to_owned(),
                Outbound::Frame { .. } => "<compressed frame>".to_owned(),
                Outbound::Close(_) => "<close>".to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_room_push_reaches_every_member_but_the_excepted_one() {
        let registry = Registry::default();
        let conns: Vec<_> = (1..=3).map(|fd| connect(&registry, fd, 1024)).collect();
        let outsider = connect(&registry, 4, 1024);
        for fd in 1..=3 {
            assert_eq!(registry.join(Fd(fd), "r"), Ok(true));
        }
        assert_eq!(registry.join(Fd(2), "r"), Ok(false));

        let delivery = registry.push_room("r", &Message::text("hi"), Some(Fd(2)));
        assert_eq!(
            delivery,
            Delivery {
                local: 2,
                refused: 0
            }
        );
        assert_eq!(drained(&conns[0]), ["hi"]);
        assert!(drained(&conns[1]).is_empty());
        assert_eq!(drained(&conns[2]), ["hi"]);
        assert!(drained(&outsider).is_empty());
        assert_eq!(
            registry.push_room("nobody", &Message::text("x"), None),
            Delivery::default()
        );
    }

    #[test]
    fn membership_changes_reach_the_next_push() {
        let registry = Registry::default();
        let a = connect(&registry, 1, 1024);
        let b = connect(&registry, 2, 1024);
        registry.join(Fd(1), "r").expect("connected");
        registry.push_room("r", &Message::text("1"), None);

        registry.join(Fd(2), "r").expect("connected");
        registry.push_room("r", &Message::text("2"), None);

        assert_eq!(registry.leave(Fd(1), "r"), Ok(true));
        assert_eq!(registry.leave(Fd(1), "r"), Ok(false));
        registry.push_room("r", &Message::text("3"), None);

        registry.remove(Fd(2));
        assert_eq!(
            registry.push_room("r", &Message::text("4"), None),
            Delivery::default()
        );
        assert_eq!(registry.room_count(), 0);
        assert_eq!(drained(&a), ["1", "2"]);
        assert_eq!(drained(&b), ["2", "3"]);
        // The room let go of the closed connection: only the test holds it now.
        assert_eq!(Arc::strong_count(&b), 1);
    }

    #[test]
    fn room_members_are_sorted_and_refusals_are_counted() {
        let registry = Registry::default();
        for fd in [5, 3, 9, 1] {
            connect(&registry, fd, 4);
            registry.join(Fd(fd), "r").expect("connected");
        }
        assert_eq!(registry.room_members("r"), [1, 3, 5, 9].map(Fd));

        registry
            .get(Fd(3))
            .expect("connected")
            .close(crate::ws::message::close_frame(1000, ""))
            .expect("open");
        registry.push_room("r", &Message::text("abcd"), None);
        // A full queue refuses the second message; a closing connection refuses any.
        let delivery = registry.push_room("r", &Message::text("e"), None);
        assert_eq!(
            delivery,
            Delivery {
                local: 0,
                refused: 4
            }
        );
    }

    #[test]
    fn joining_a_gone_connection_fails() {
        let registry = Registry::default();
        assert_eq!(
            registry.join(Fd(1), "r"),
            Err(SendError::NotConnected(Fd(1)))
        );
        assert!(registry.room_members("r").is_empty());
    }
}
