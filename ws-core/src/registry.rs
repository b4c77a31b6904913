//! Every connection this node holds, by fd, and the rooms they are in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::Fd;
use crate::SendError;
use crate::context::Context;
use crate::message::{CloseFrame, Message};
use crate::outbox::{Outbox, Refusal};

/// What the registry keeps of one live connection.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub(crate) fd: Fd,
    pub(crate) outbox: Outbox,
    pub(crate) context: Context,
    pub(crate) server: Arc<str>,
    pub(crate) route: Arc<str>,
    /// Whether the client was heard from lately, for the heartbeat sweep.
    pub(crate) liveness: crate::heartbeat::Liveness,
    /// The rooms this connection joined, so closing it leaves them without a scan.
    rooms: Mutex<Vec<Arc<str>>>,
}

impl ConnShared {
    pub(crate) fn new(
        fd: Fd,
        outbox: Outbox,
        context: Context,
        server: Arc<str>,
        route: Arc<str>,
    ) -> Self {
        Self {
            fd,
            outbox,
            context,
            server,
            route,
            liveness: Default::default(),
            rooms: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn push(&self, message: Message) -> Result<(), SendError> {
        self.outbox.push(message).map_err(|refusal| match refusal {
            Refusal::Closed => SendError::NotConnected(self.fd),
            Refusal::Full => SendError::Backpressure(self.fd),
        })
    }

    pub(crate) fn close(&self, frame: CloseFrame) -> Result<(), SendError> {
        self.outbox
            .close(frame)
            .map_err(|_| SendError::NotConnected(self.fd))
    }
}

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
    connections: DashMap<Fd, Arc<ConnShared>>,
    rooms: DashMap<Arc<str>, HashSet<Fd>>,
}

impl Registry {
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
        let mut delivery = Delivery::default();
        for conn in self.connections.iter() {
            if Some(conn.fd) == except {
                continue;
            }
            match conn.push(message.clone()) {
                Ok(()) => delivery.local += 1,
                Err(_) => delivery.refused += 1,
            }
        }
        delivery
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
        self.rooms.entry(name).or_default().insert(fd);
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
            Some(mut members) => {
                members.remove(&fd);
                members.is_empty()
            }
            None => false,
        };
        if emptied {
            self.rooms.remove_if(room, |_, members| members.is_empty());
        }
    }

    pub(crate) fn room_members(&self, room: &str) -> Vec<Fd> {
        let mut fds: Vec<Fd> = self
            .rooms
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default();
        fds.sort_unstable();
        fds
    }

    pub(crate) fn rooms_of(&self, fd: Fd) -> Vec<String> {
        self.get(fd)
            .map(|c| c.rooms.lock().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub(crate) fn push_room(&self, room: &str, message: &Message, except: Option<Fd>) -> Delivery {
        let mut delivery = Delivery::default();
        for fd in self.room_members(room) {
            if Some(fd) == except {
                continue;
            }
            match self.push(fd, message.clone()) {
                Ok(()) => delivery.local += 1,
                Err(_) => delivery.refused += 1,
            }
        }
        delivery
    }
}
