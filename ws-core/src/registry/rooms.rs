//! Rooms on this node, and one message on its way to many connections.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::burst::Bursts;
use super::conn::Compression;
use super::{ConnShared, Delivery};
use crate::Fd;
use crate::metrics::{Metrics, Traffic};
use crate::ws::codec::{Outgoing, compressed_frame, opcode, whole_frame};
use crate::ws::message::Message;
use crate::ws::outbox::Reached;

/// The members of one room on this node.
///
/// Members are held by their shared state rather than by fd, so a push to the room reaches each
/// one without a lookup in `connections`.
#[derive(Debug, Default)]
pub(super) struct Room {
    /// In fd order: the order the connections were accepted, so roughly the order their state,
    /// their tasks and their kernel sockets were allocated. Pushing (and so waking and writing)
    /// in that order took ~15% less server CPU per broadcast to 10,000 members than hash order
    /// did, in user and kernel time alike.
    pub(super) members: BTreeMap<Fd, Arc<ConnShared>>,
    /// `members` as a list, built by the first push after a change and shared by the pushes
    /// after it. A push walks it holding no lock, so a fan-out to thousands of members never
    /// holds up joins and leaves, and a room that did not change costs no copy per push.
    pub(super) snapshot: Option<Arc<[Arc<ConnShared>]>>,
}

impl Room {
    pub(super) fn add(&mut self, conn: Arc<ConnShared>) {
        self.members.insert(conn.fd, conn);
        self.snapshot = None;
    }

    pub(super) fn remove(&mut self, fd: Fd) {
        if self.members.remove(&fd).is_some() {
            // Dropped now rather than at the next push, so a closed connection is not kept
            // alive by a room that stays quiet.
            self.snapshot = None;
        }
    }

    pub(super) fn snapshot(&mut self) -> Arc<[Arc<ConnShared>]> {
        let members = &self.members;
        self.snapshot
            .get_or_insert_with(|| members.values().cloned().collect())
            .clone()
    }
}

/// One message on its way to many connections.
pub(super) struct Fanout<'m> {
    message: &'m Message,
    /// The message's frame, encoded once and written as is to every member it can be.
    frame: Option<Bytes>,
    delivery: Delivery,
    /// Members that got the frame written by the fan-out itself; their tasks, which count
    /// what they send, never saw it.
    written: u64,
    /// The burst of room pushes this one belongs to (`burst.rs`).
    burst: u64,
    /// Members whose first frame for the burst's end this was.
    deferred: Vec<Arc<ConnShared>>,
    /// The message compressed, once per set of parameters among the members (there is one
    /// unless servers are configured differently).
    compressed: Vec<(Outgoing, Bytes)>,
}

impl<'m> Fanout<'m> {
    pub(super) fn new(message: &'m Message, burst: u64) -> Self {
        Self {
            message,
            frame: whole_frame(message),
            delivery: Delivery::default(),
            written: 0,
            burst,
            deferred: Vec::new(),
            compressed: Vec::new(),
        }
    }

    /// The message compressed for `outgoing`, made on the first member that needs it.
    fn compressed_for(&mut self, outgoing: Outgoing) -> Bytes {
        let key = Outgoing {
            threshold: 0,
            ..outgoing
        };
        if let Some((_, frame)) = self.compressed.iter().find(|(k, _)| *k == key) {
            return frame.clone();
        }
        let (code, payload): (u8, &[u8]) = match self.message {
            Message::Text(text) => (opcode::TEXT, text.as_bytes()),
            Message::Binary(data) => (opcode::BINARY, data),
            // `push` compresses only what has a whole frame: text and binary.
            _ => (opcode::BINARY, &[]),
        };
        let frame = compressed_frame(code, payload, outgoing);
        self.compressed.push((key, frame.clone()));
        frame
    }

    pub(super) fn push(&mut self, conn: &Arc<ConnShared>) {
        let len = self.message.len();
        let reached = match (conn.compression, &self.frame) {
            // A data message long enough to compress.
            (Compression::Shared(outgoing), Some(_)) if outgoing.applies_to(len) => {
                let frame = self.compressed_for(outgoing);
                conn.outbox.push_compressed(&frame, len, self.burst)
            }
            (Compression::PerConnection(outgoing), Some(_)) if outgoing.applies_to(len) => conn
                .outbox
                .push(self.message.clone())
                .map(|()| Reached::Queued),
            (_, Some(frame)) => conn.outbox.push_frame(frame, self.message, self.burst),
            (_, None) => conn
                .outbox
                .push(self.message.clone())
                .map(|()| Reached::Queued),
        };
        match reached {
            Ok(Reached::Written) => {
                self.written += 1;
                self.delivery.local += 1;
            }
            Ok(Reached::Queued) => self.delivery.local += 1,
            Ok(Reached::Deferred) => {
                self.deferred.push(Arc::clone(conn));
                self.delivery.local += 1;
            }
            Err(_) => self.delivery.refused += 1,
        }
    }

    pub(super) fn finish(self, metrics: &Arc<Metrics>, bursts: &Arc<Bursts>) -> Delivery {
        metrics.compressions.fetch_add(
            self.compressed.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Traffic {
            messages_out: self.written,
            bytes_out: self.written * self.message.len() as u64,
            ..Traffic::default()
        }
        .report(metrics);
        bursts.pushed(self.written > 0, self.deferred, metrics);
        self.delivery
    }
}
