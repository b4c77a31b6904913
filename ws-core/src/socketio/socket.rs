//! [`Socket`]: one client connected to one namespace, as its handlers see it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::emit::{Audience, EmitError, Operator, record, room_key};
use super::frames::event_packet;
use super::identity::Identity;
use super::packet::{Kind, Packet};
use super::payload::{IntoPayload, Payload};
use super::presence::{PresenceKind, announce, meta_key};
use super::reason::DisconnectReason;
use super::recovery::Recovery;
use super::work::Work;
use crate::ws::message::Message;
use crate::{Connection, Context};

/// One client in one namespace: Hyperf's `$socket`.
///
/// Cheap to clone. Its id is the same on every node of the cluster, so it can be stored and
/// reached later through [`SocketIo`](super::SocketIo).
///
/// ```no_run
/// # async fn demo(socket: &ws_core::socketio::Socket) -> Result<(), ws_core::socketio::EmitError> {
/// socket.join("lobby").await?;
/// socket.to("lobby").emit("event", format!("{} has joined lobby", socket.id())).await?;
/// let answer = socket.emit_with_ack("question", "ready?").await?;
/// println!("{:?}", answer.args());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(super) inner: Arc<SocketInner>,
}

pub(super) struct SocketInner {
    pub(super) id: String,
    /// The private id of its session, in a namespace that recovers sessions.
    pub(super) pid: Option<String>,
    /// Whether it is a session recovered after a lost transport.
    recovered: bool,
    pub(super) recovery: Arc<Recovery>,
    pub(super) namespace: Arc<str>,
    pub(super) conn: Connection,
    /// Server-to-client acknowledgements awaited, by ack id. Filled by `emit_with_ack`, emptied
    /// by the connection's reader when the client answers, so a handler that awaits an answer
    /// never waits on its own event loop.
    acks: Mutex<HashMap<u64, oneshot::Sender<Payload>>>,
    next_ack: AtomicU64,
    ack_timeout: Duration,
    data: Context,
    connected: AtomicBool,
    /// The connection's handler task, which takes the socket out on `disconnect`.
    work: mpsc::UnboundedSender<Work>,
    /// Held while a packet and its attachments are queued, so two emits to this socket never
    /// interleave their binary parts.
    emitting: Mutex<()>,
    /// The rooms joined through [`Socket::join`], so its presence events can name them once
    /// the connection (and its registry entry) is gone.
    pub(super) joined: Mutex<BTreeSet<String>>,
    /// When its session was last written to the recovery store.
    pub(super) kept: Mutex<Option<tokio::time::Instant>>,
    /// Its presence metadata as JSON text, once tracked; kept here because the connection's
    /// context is cleared before the last `Leave` events are sent.
    pub(super) presence: Mutex<Option<Arc<str>>>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

impl Socket {
    pub(crate) fn new(
        namespace: Arc<str>,
        conn: Connection,
        ack_timeout: Duration,
        work: mpsc::UnboundedSender<Work>,
        identity: Identity,
        recovery: Arc<Recovery>,
    ) -> Self {
        Self {
            inner: Arc::new(SocketInner {
                id: identity.id,
                pid: identity.pid,
                recovered: identity.recovered,
                recovery,
                namespace,
                conn,
                acks: Mutex::default(),
                next_ack: AtomicU64::new(0),
                ack_timeout,
                data: Context::default(),
                connected: AtomicBool::new(true),
                work,
                emitting: Mutex::new(()),
                joined: Mutex::default(),
                kept: Mutex::default(),
                presence: Mutex::default(),
            }),
        }
    }

    /// The socket's id (`socket.id` on the client), unique across the cluster.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether this socket is a session recovered after its client lost the transport
    /// (`socket.recovered` on the client): its id, its rooms and the packets it missed came
    /// back, so `on_connect` need not join its rooms again. Only in a namespace that recovers
    /// sessions (`[servers.settings.socketio.recovery]`).
    ///
    /// ```no_run
    /// # async fn demo(socket: &ws_core::socketio::Socket) -> Result<(), ws_core::socketio::EmitError> {
    /// if !socket.recovered() {
    ///     socket.join("lobby").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// The namespace, e.g. `/`.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The WebSocket connection under the socket.
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// Per-socket typed data (Socket.IO's `socket.data`). Still readable in `on_disconnect`,
    /// so it can say who left; dropped once that handler has returned.
    pub fn data(&self) -> &Context {
        &self.inner.data
    }

    /// Whether the socket is still connected to its namespace.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Sends `event` with `data` to this client.
    ///
    /// In a namespace that recovers sessions, the event is recorded first and carries its
    /// offset last, as every event there does.
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        let mut payload = data.into_payload()?;
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let namespace = &self.inner.namespace;
        let audience = Audience::socket(&self.inner.id);
        if let Some(offset) =
            record(&self.inner.recovery, namespace, event, &payload, audience).await?
        {
            payload.push_arg(Value::String(offset));
        }
        self.send(event_packet(namespace, event, payload, None))
    }

    /// Sends `event` with `data` and waits for the client's acknowledgement, up to
    /// `ack_timeout_ms` of the server's `[servers.settings.socketio]`.
    ///
    /// Safe to await inside an event handler: the answer is taken off the connection by its
    /// reader, not by the handler's event queue.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        data: impl IntoPayload,
    ) -> Result<Payload, EmitError> {
        self.emit_with_ack_timeout(event, data, self.inner.ack_timeout)
            .await
    }

    /// [`emit_with_ack`](Self::emit_with_ack) with its own timeout.
    pub async fn emit_with_ack_timeout(
        &self,
        event: &str,
        data: impl IntoPayload,
        timeout: Duration,
    ) -> Result<Payload, EmitError> {
        let payload = data.into_payload()?;
        let id = self.inner.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.inner.acks.lock().insert(id, tx);
        let sent = self.send(event_packet(
            &self.inner.namespace,
            event,
            payload,
            Some(id),
        ));
        let answer = match sent {
            Ok(()) => tokio::time::timeout(timeout, rx).await,
            Err(error) => {
                self.inner.acks.lock().remove(&id);
                return Err(error);
            }
        };
        match answer {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(_)) => Err(EmitError::Disconnected),
            Err(_) => {
                self.inner.acks.lock().remove(&id);
                Err(EmitError::AckTimeout)
            }
        }
    }

    /// Hands the client's acknowledgement `id` to the emit that waits for it.
    pub(crate) fn resolve_ack(&self, id: u64, payload: Payload) {
        if let Some(waiting) = self.inner.acks.lock().remove(&id) {
            // The emit may have timed out meanwhile; its answer is then dropped.
            let _ = waiting.send(payload);
        }
    }

    /// Joins `room` of this namespace (cluster-wide visible). A tracked socket
    /// ([`set_presence`](Self::set_presence)) raises a [`PresenceKind::Join`] on every node.
    pub async fn join(&self, room: &str) -> Result<(), EmitError> {
        if self.join_room(room).await? {
            self.keep_session().await;
        }
        Ok(())
    }

    /// Joins `room` and announces it, without writing the session: `true` when the socket
    /// was not in it. A recovered socket rejoins its rooms with it and writes its session once.
    pub(crate) async fn join_room(&self, room: &str) -> Result<bool, EmitError> {
        let conn = &self.inner.conn;
        let joined = conn.join(&room_key(&self.inner.namespace, room)).await?;
        // Its own room (named by its id) is no room anyone is present in.
        if joined && room != self.inner.id {
            self.inner.joined.lock().insert(room.to_owned());
            self.announce(room, PresenceKind::Join).await;
            return Ok(true);
        }
        Ok(false)
    }

    /// Leaves `room`; a tracked socket raises a [`PresenceKind::Leave`] on every node.
    pub async fn leave(&self, room: &str) -> Result<(), EmitError> {
        let conn = &self.inner.conn;
        let left = conn.leave(&room_key(&self.inner.namespace, room)).await?;
        if left && self.inner.joined.lock().remove(room) {
            self.announce(room, PresenceKind::Leave).await;
            self.keep_session().await;
        }
        Ok(())
    }

    /// Tracks the socket with `meta`, what every node sees of it: in
    /// [`RemoteSocket::presence`](super::RemoteSocket::presence) from
    /// [`fetch_sockets`](super::SocketIo::fetch_sockets), and in the
    /// [`PresenceEvent`](super::PresenceEvent)s of its rooms. The first call raises a `Join` for
    /// every room it is already in, later ones an `Update`; from then on its joins and leaves
    /// (its disconnect included) raise events too. `meta` is serialized to JSON once, here.
    ///
    /// ```no_run
    /// # async fn demo(socket: &ws_core::socketio::Socket) -> Result<(), ws_core::socketio::EmitError> {
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Member { name: String }
    ///
    /// socket.set_presence(&Member { name: "ann".into() }).await?;
    /// socket.join("lobby").await?; // every node hears: ann joined lobby
    /// # Ok(()) }
    /// ```
    pub async fn set_presence<T: Serialize + ?Sized>(&self, meta: &T) -> Result<(), EmitError> {
        self.track(serde_json::to_string(meta)?).await;
        self.keep_session().await;
        Ok(())
    }

    /// Tracks the socket with `text` (JSON) and announces it, without writing the session.
    pub(crate) async fn track(&self, text: String) {
        let first = self
            .inner
            .presence
            .lock()
            .replace(Arc::from(text.as_str()))
            .is_none();
        self.inner
            .conn
            .context()
            .set(meta_key(&self.inner.namespace), text);
        let kind = if first {
            PresenceKind::Join
        } else {
            PresenceKind::Update
        };
        let rooms: Vec<String> = self.inner.joined.lock().iter().cloned().collect();
        for room in rooms {
            self.announce(&room, kind).await;
        }
    }

    /// The metadata of [`set_presence`](Self::set_presence) as `T`; `Ok(None)` while untracked.
    ///
    /// ```no_run
    /// # fn demo(socket: &ws_core::socketio::Socket) -> Result<(), serde_json::Error> {
    /// let meta: Option<serde_json::Value> = socket.presence()?;
    /// # Ok(()) }
    /// ```
    pub fn presence<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        let meta = self.inner.presence.lock().clone();
        meta.map(|text| serde_json::from_str(&text)).transpose()
    }

    /// Raises `kind` in `room` on every node, if the socket is tracked.
    async fn announce(&self, room: &str, kind: PresenceKind) {
        let meta = self.inner.presence.lock().clone();
        if let Some(meta) = meta {
            let sender = self.inner.conn.sender();
            announce(
                sender,
                &self.inner.namespace,
                (&self.inner.id, self.inner.conn.fd()),
                room,
                kind,
                &meta,
            )
            .await;
        }
    }

    /// The socket left its namespace: a tracked socket raises a `Leave` for every room it was
    /// in.
    pub(crate) async fn left_every_room(&self) {
        // The connection may stay (a namespace disconnect) and connect to the namespace again,
        // untracked: its listing must not show this socket's metadata.
        self.inner
            .conn
            .context()
            .remove(&meta_key(&self.inner.namespace));
        let rooms = std::mem::take(&mut *self.inner.joined.lock());
        for room in rooms {
            self.announce(&room, PresenceKind::Leave).await;
        }
    }

    /// The rooms this socket is in, its own (named by its id) included.
    pub fn rooms(&self) -> Vec<String> {
        let prefix = room_key(&self.inner.namespace, "");
        let mut rooms: Vec<String> = self
            .inner
            .conn
            .sender()
            .rooms_of(self.inner.conn.fd())
            .into_iter()
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        rooms.sort();
        rooms
    }

    /// Emits to the members of `room` but this socket, on every node.
    pub fn to(&self, room: &str) -> Operator {
        self.broadcast().to(room)
    }

    /// Emits to every socket of this namespace but this one, on every node.
    pub fn broadcast(&self) -> Operator {
        Operator::new(
            self.inner.conn.sender().clone(),
            self.inner.namespace.clone(),
            self.inner.recovery.clone(),
        )
        .except_socket(self.inner.conn.fd(), &self.inner.id)
    }

    /// Emits to every socket of this namespace but this one and the members of `room`.
    pub fn except(&self, room: &str) -> Operator {
        self.broadcast().except(room)
    }

    /// Disconnects the socket from its namespace (the client sees
    /// `io server disconnect`); `on_disconnect` runs with
    /// [`DisconnectReason::ServerNamespaceDisconnect`].
    pub async fn disconnect(&self) -> Result<(), EmitError> {
        let packet = Packet {
            kind: Kind::Disconnect,
            namespace: self.inner.namespace.to_string(),
            ack: None,
            data: Value::Null,
            attachments: 0,
        };
        self.send((Message::text(packet.encode()), Vec::new()))?;
        // The handler task takes the socket out after the work queued before this call.
        let _ = self.inner.work.send(Work::Leave {
            namespace: self.inner.namespace.to_string(),
            reason: DisconnectReason::ServerNamespaceDisconnect,
        });
        Ok(())
    }

    /// Marks the socket gone and fails every acknowledgement still awaited. Its data stays
    /// until [`drop_data`](Self::drop_data), so `on_disconnect` can still read it.
    pub(crate) fn mark_disconnected(&self) {
        self.inner.connected.store(false, Ordering::Release);
        self.inner.acks.lock().clear();
    }

    /// Drops the per-socket data, after `on_disconnect`: a clone of the socket kept elsewhere
    /// (in a user's map, a spawned task) must not keep the values alive.
    pub(crate) fn drop_data(&self) {
        self.inner.data.clear();
    }

    /// Queues a packet and its attachments for this client.
    pub(crate) fn send(&self, (text, binaries): (Message, Vec<Message>)) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let shared = &self.inner.conn.shared;
        let _order = self.inner.emitting.lock();
        shared.push(text)?;
        for binary in binaries {
            shared.push(binary)?;
        }
        Ok(())
    }
}
