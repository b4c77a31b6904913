//! Presence (Phoenix Presence for Socket.IO rooms): who is in a room across the cluster, with the
//! metadata each socket shares, and a stream of the changes on every node.
//!
//! A socket is *tracked* once it calls [`Socket::set_presence`](super::Socket::set_presence):
//! its metadata is serialized to JSON once, there, and kept twice — in the socket, for the
//! events, and in its connection's context, where its node reads it to answer another node's
//! listing. Other per-socket data ([`Socket::data`](super::Socket::data)) holds values of any
//! type and never leaves its node.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::NodeId;
use crate::registry::Notice;

/// The topic of presence notices among the notices nodes exchange.
pub(crate) const TOPIC: &str = "socket.io/presence";

/// The context key of a socket's presence metadata (JSON text) in `namespace`.
pub(crate) fn meta_key(namespace: &str) -> String {
    format!("\u{1}sio-presence{namespace}")
}

/// What changed for a tracked socket in a room; `"join"`, `"leave"` or `"update"` in JSON.
///
/// ```
/// use ws_core::socketio::PresenceKind;
///
/// assert_eq!(serde_json::to_string(&PresenceKind::Leave)?, r#""leave""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PresenceKind {
    /// It joined the room (or, already in it, was tracked for the first time).
    Join,
    /// It left the room, by `leave`, a namespace disconnect or a closed connection.
    Leave,
    /// It set new metadata while in the room.
    Update,
}

/// A change of presence in a room, delivered once on every node of the cluster. It serializes
/// to `{"namespace", "room", "socket_id", "node", "kind", "meta"}`, so it can be forwarded to
/// clients as is.
///
/// ```
/// use ws_core::socketio::{PresenceEvent, PresenceKind};
///
/// let event: PresenceEvent = serde_json::from_str(
///     r#"{"namespace":"/","room":"lobby","socket_id":"42","node":1,"kind":"join","meta":{"name":"ann"}}"#,
/// )?;
/// assert_eq!(event.kind, PresenceKind::Join);
/// #[derive(serde::Deserialize)]
/// struct Member { name: String }
/// assert_eq!(event.meta_as::<Member>()?.map(|m| m.name).as_deref(), Some("ann"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PresenceEvent {
    /// The namespace, e.g. `/`.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The socket's id.
    pub socket_id: String,
    /// The node that holds the socket.
    pub node: NodeId,
    /// What changed.
    pub kind: PresenceKind,
    /// The socket's metadata ([`Socket::set_presence`](super::Socket::set_presence)) at the
    /// change.
    pub meta: Option<Value>,
}

impl PresenceEvent {
    /// The metadata as `T`; `Ok(None)` when the socket shares none.
    pub fn meta_as<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        self.meta.clone().map(serde_json::from_value).transpose()
    }
}

/// How often a listener that knows members of other nodes checks that those nodes still hold
/// their lease; a crashed node's members are announced gone within its lease plus this.
const CRASH_CHECK: Duration = Duration::from_secs(1);

/// A tracked member of another node, as a listener knows it: (namespace, room, socket id).
type RemoteMember = (String, String, String);

/// The presence changes of every node, from the moment it was made
/// ([`SocketIo::presence`](super::SocketIo::presence)). Each change arrives once per node, so an
/// app forwards it to its own node's clients with
/// [`Operator::local`](super::Operator::local).
///
/// A node that crashes says nothing, so each listener remembers the members of other nodes whose
/// changes it saw, and once such a node's lease has expired it hands out a `Leave` for each of
/// them itself (once per listener, so once per node when a node has one listener). Members that
/// joined before the listener was made are not known to it, and get no such `Leave`.
///
/// ```no_run
/// # async fn demo(io: ws_core::socketio::SocketIo) {
/// let mut changes = io.presence();
/// tokio::spawn(async move {
///     while let Some(change) = changes.recv().await {
///         let room = change.room.clone();
///         io.of(&change.namespace).local().to(&room).emit("presence_diff", change).await.ok();
///     }
/// });
/// # }
/// ```
#[derive(Debug)]
pub struct PresenceEvents {
    notices: broadcast::Receiver<Notice>,
    sender: crate::Sender,
    /// Other nodes' tracked members, by node, with their metadata.
    remote: HashMap<NodeId, HashMap<RemoteMember, Option<Value>>>,
    /// `Leave`s of a crashed node's members, not handed out yet.
    gone: VecDeque<PresenceEvent>,
    crash_check: tokio::time::Interval,
}

impl PresenceEvents {
    pub(crate) fn new(sender: crate::Sender) -> Self {
        let mut crash_check = tokio::time::interval(CRASH_CHECK);
        crash_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            notices: sender.notices(),
            sender,
            remote: HashMap::new(),
            gone: VecDeque::new(),
            crash_check,
        }
    }

    /// The next change; `None` once the node is gone. A listener that falls over a thousand
    /// changes behind skips the oldest, with a warning naming how many.
    pub async fn recv(&mut self) -> Option<PresenceEvent> {
        loop {
            if let Some(event) = self.gone.pop_front() {
                return Some(event);
            }
            let checking = !self.remote.is_empty();
            let notice = tokio::select! {
                notice = self.notices.recv() => notice,
                _ = self.crash_check.tick(), if checking => {
                    self.find_crashed().await;
                    continue;
                }
            };
            match notice {
                Ok(notice) if notice.topic == TOPIC => {
                    match serde_json::from_slice::<PresenceEvent>(&notice.body) {
                        Ok(event) => {
                            self.remember(&event);
                            return Some(event);
                        }
                        // Sent by a node of another version; nothing this one can use.
                        Err(error) => tracing::debug!(%error, "an unreadable presence notice"),
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a presence listener fell behind and missed changes");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Keeps track of another node's members, to announce them gone if that node crashes.
    fn remember(&mut self, event: &PresenceEvent) {
        let me = self.sender.node();
        if event.node == me || event.node.0 == 0 {
            return;
        }
        let member = (
            event.namespace.clone(),
            event.room.clone(),
            event.socket_id.clone(),
        );
        let members = self.remote.entry(event.node).or_default();
        match event.kind {
            PresenceKind::Leave => {
                members.remove(&member);
                if members.is_empty() {
                    self.remote.remove(&event.node);
                }
            }
            PresenceKind::Join | PresenceKind::Update => {
                members.insert(member, event.meta.clone());
            }
        }
    }

    /// Queues a `Leave` for every known member of a node whose lease has expired. While the
    /// broker is down nothing is concluded: the nodes may well be alive.
    async fn find_crashed(&mut self) {
        let Ok(live) = self.sender.live_nodes().await else {
            return;
        };
        let crashed: Vec<NodeId> = self
            .remote
            .keys()
            .filter(|node| !live.contains(node))
            .copied()
            .collect();
        for node in crashed {
            let members = self.remote.remove(&node).unwrap_or_default();
            tracing::debug!(%node, members = members.len(), "a node's lease expired; its members left");
            for ((namespace, room, socket_id), meta) in members {
                self.gone.push_back(PresenceEvent {
                    namespace,
                    room,
                    socket_id,
                    node,
                    kind: PresenceKind::Leave,
                    meta,
                });
            }
        }
    }
}

/// Reads `meta` (JSON text) for an event; text that is not JSON is carried as a string.
pub(crate) fn meta_value(meta: Option<&str>) -> Option<Value> {
    meta.map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

/// Tells every node that the tracked socket `socket_id` on `fd` (`meta` its metadata) changed
/// in `room`. A
/// failed cast is logged, not returned: the change itself happened, and presence events are
/// at-most-once across nodes like every cast.
pub(crate) async fn announce(
    sender: &crate::Sender,
    namespace: &str,
    (socket_id, fd): (&str, crate::Fd),
    room: &str,
    kind: PresenceKind,
    meta: &str,
) {
    let event = PresenceEvent {
        namespace: namespace.to_owned(),
        room: room.to_owned(),
        // A recovered socket keeps the id of its first connection, not its fd's.
        socket_id: socket_id.to_owned(),
        node: fd.node(),
        kind,
        meta: meta_value(Some(meta)),
    };
    let body = match serde_json::to_vec(&event) {
        Ok(body) => bytes::Bytes::from(body),
        Err(error) => {
            tracing::debug!(%error, "a presence event does not serialize");
            return;
        }
    };
    if let Err(error) = sender.notify(TOPIC, body).await {
        tracing::debug!(%fd, room, %error, "a presence change reached this node only");
    }
}
