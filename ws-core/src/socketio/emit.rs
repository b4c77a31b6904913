//! [`Operator`]: an emit to rooms of a namespace across the cluster, and what it can fail with.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::frames::event_packet;
use super::identity::socket_id;
use super::payload::{IntoPayload, Payload};
use super::presence::meta_key;
use super::recovery::entry::Recorded;
use super::recovery::{Recovery, StoreError};
use crate::ws::message::Message;
use crate::{Fd, NodeId, SendError, Sender};

/// Why an emit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The data did not serialize to JSON.
    #[error("the data does not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The socket is no longer connected to its namespace.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The client did not acknowledge in time.
    #[error("the client did not acknowledge in time")]
    AckTimeout,
    /// The push itself failed (a full queue, a broker that is down).
    #[error(transparent)]
    Send(#[from] SendError),
    /// The emit could not be recorded for connection state recovery (its store is down), so
    /// it was not sent either: a client that reconnects must not miss what others saw.
    #[error(transparent)]
    Recovery(#[from] StoreError),
}

/// The registry room that holds a namespace's members of `room`. A room of the raw WebSocket
/// API never starts with `\u{1}`, so the two never meet.
pub(crate) fn room_key(namespace: &str, room: &str) -> String {
    format!("\u{1}sio{namespace}\u{1}{room}")
}

/// The registry room every socket of a namespace is in.
pub(crate) fn namespace_key(namespace: &str) -> String {
    format!("\u{1}sio{namespace}")
}

/// The registry room that names a recovered socket, whose id is not its connection's fd (it
/// kept the id it had on its first connection). Not a room of the namespace: the listings read
/// the socket's id from it.
pub(crate) fn id_key(namespace: &str, id: &str) -> String {
    format!("\u{1}sio{namespace}\u{2}{id}")
}

/// Emits to a selection of one namespace's sockets on every node: all of them, or the members of
/// the rooms named with [`to`](Self::to), minus those of the rooms named with
/// [`except`](Self::except). Every selected socket gets the event exactly once, however many of
/// the rooms it is in.
///
/// ```no_run
/// # async fn demo(io: ws_core::socketio::SocketIo) -> Result<(), ws_core::socketio::EmitError> {
/// io.of("/").to("room1").to("room2").except("muted").emit("event", "hello").await?;
/// println!("{} in room1", io.of("/").to("room1").size().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Operator {
    sender: Sender,
    namespace: Arc<str>,
    rooms: Vec<String>,
    except_rooms: Vec<String>,
    except_fd: Option<Fd>,
    /// The id of the socket `except_fd` holds, as recovery records it.
    except_socket: Option<Arc<str>>,
    local: bool,
    recovery: Arc<Recovery>,
}

impl Operator {
    pub(crate) fn new(sender: Sender, namespace: Arc<str>, recovery: Arc<Recovery>) -> Self {
        Self {
            sender,
            namespace,
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except_fd: None,
            except_socket: None,
            local: false,
            recovery,
        }
    }

    /// Leaves out the socket `id` on the connection `fd`: the sender of a broadcast.
    pub(crate) fn except_socket(mut self, fd: Fd, id: &str) -> Self {
        self.except_fd = Some(fd);
        self.except_socket = Some(Arc::from(id));
        self
    }

    /// Adds `room` to the selection (without any, the whole namespace is selected).
    pub fn to(mut self, room: &str) -> Self {
        self.rooms.push(room.to_owned());
        self
    }

    /// Leaves out the members of `room`.
    pub fn except(mut self, room: &str) -> Self {
        self.except_rooms.push(room.to_owned());
        self
    }

    /// Narrows the selection to this node's sockets (Socket.IO's `io.local`): what forwards a
    /// [`PresenceEvent`](super::PresenceEvent), which every node gets, to each client once.
    /// Emits, sizes and listings then never touch the broker.
    ///
    /// ```no_run
    /// # async fn demo(io: ws_core::socketio::SocketIo) -> Result<(), ws_core::socketio::EmitError> {
    /// io.of("/").local().to("lobby").emit("event", "to this node's members").await?;
    /// let here = io.of("/").local().to("lobby").size().await?;
    /// # Ok(()) }
    /// ```
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    fn except_keys(&self) -> Vec<String> {
        self.except_rooms
            .iter()
            .map(|r| room_key(&self.namespace, r))
            .collect()
    }

    fn target_keys(&self) -> Vec<String> {
        if self.rooms.is_empty() {
            vec![namespace_key(&self.namespace)]
        } else {
            self.rooms
                .iter()
                .map(|r| room_key(&self.namespace, r))
                .collect()
        }
    }

    /// Sends `event` with `data` to every selected socket.
    ///
    /// In a namespace that recovers sessions (`[servers.settings.socketio.recovery]`), the emit
    /// is first recorded in the store and goes out with its offset as the last argument, as
    /// Socket.IO does; a [`local`](Self::local) emit is neither recorded nor offset, since it
    /// is for this node's sockets only.
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        let mut payload = data.into_payload()?;
        if !self.local
            && let Some(offset) = self.record(event, &payload).await?
        {
            payload.push_arg(serde_json::Value::String(offset));
        }
        let (text, binaries) = event_packet(&self.namespace, event, payload, None);
        let messages: Vec<Message> = std::iter::once(text).chain(binaries).collect();
        let keys = self.target_keys();
        if keys.len() == 1 && self.except_rooms.is_empty() && self.local {
            for message in &messages {
                self.sender.to_local_room(&keys[0], message, self.except_fd);
            }
            return Ok(());
        }
        if keys.len() == 1 && self.except_rooms.is_empty() {
            // One room: one publish per frame reaches every node, each delivering to its own
            // members.
            for message in messages {
                self.sender
                    .to_room(&keys[0], message, self.except_fd)
                    .await?;
            }
            return Ok(());
        }
        for fd in self.selected().await? {
            for message in &messages {
                match self.sender.push(fd, message.clone()).await {
                    // Gone since it was listed: not an error of the emit.
                    Ok(()) | Err(SendError::NotConnected(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(())
    }

    /// Records the emit for recovery; its offset, when the namespace recovers.
    async fn record(&self, event: &str, payload: &Payload) -> Result<Option<String>, EmitError> {
        let audience = Audience {
            rooms: self.rooms.clone(),
            except: self.except_rooms.clone(),
            except_socket: self.except_socket.as_deref().map(str::to_owned),
        };
        record(&self.recovery, &self.namespace, event, payload, audience).await
    }

    /// The connections selected, each once.
    async fn selected(&self) -> Result<BTreeSet<Fd>, EmitError> {
        let mut fds = BTreeSet::new();
        if self.local {
            let members = self
                .sender
                .local_members(&self.target_keys(), &self.except_keys());
            fds.extend(members);
        } else {
            for key in self.target_keys() {
                fds.extend(self.sender.room_members(&key).await?);
            }
            for key in self.except_keys() {
                for fd in self.sender.room_members(&key).await? {
                    fds.remove(&fd);
                }
            }
        }
        if let Some(fd) = self.except_fd {
            fds.remove(&fd);
        }
        Ok(fds)
    }

    /// The selected sockets on every node (Socket.IO's `fetchSockets`), each with its node, its
    /// rooms and its presence metadata at the time of the call.
    ///
    /// One request per other node, concurrently, each bounded by `request_timeout_ms`: every
    /// node lists its own members, since rooms live where their connections live. A node that
    /// does not answer in time is left out (a crashed node's members are gone, and from the end
    /// of its lease it is not asked any more); only a broker that is down fails the call.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, EmitError> {
        let prefix = room_key(&self.namespace, "");
        let id_prefix = id_key(&self.namespace, "");
        let members = self
            .sender
            .describe(
                self.target_keys(),
                self.except_keys(),
                meta_key(&self.namespace),
                self.local,
            )
            .await?;
        Ok(members
            .into_iter()
            .filter(|member| Some(member.fd) != self.except_fd)
            .map(|member| {
                let mut rooms: Vec<String> = member
                    .rooms
                    .iter()
                    .filter_map(|room| room.strip_prefix(&prefix).map(str::to_owned))
                    .collect();
                rooms.sort();
                let id = member
                    .rooms
                    .iter()
                    .find_map(|room| room.strip_prefix(&id_prefix))
                    .map_or_else(|| socket_id(member.fd), str::to_owned);
                RemoteSocket {
                    id,
                    fd: member.fd,
                    rooms,
                    meta: member.meta.map(Arc::from),
                    namespace: self.namespace.clone(),
                    sender: self.sender.clone(),
                    recovery: self.recovery.clone(),
                }
            })
            .collect())
    }

    /// How many sockets are selected, counted across the cluster.
    pub async fn size(&self) -> Result<usize, EmitError> {
        Ok(self.selected().await?.len())
    }
}

/// A socket found by [`Operator::fetch_sockets`], on this node or another, as it was at the
/// call: its node, its rooms and its presence metadata travel with it.
///
/// ```no_run
/// # async fn demo(io: ws_core::socketio::SocketIo) -> Result<(), Box<dyn std::error::Error>> {
/// #[derive(serde::Deserialize)]
/// struct Member { name: String }
///
/// for socket in io.fetch_sockets("lobby").await? {
///     let name = socket.presence::<Member>()?.map(|m| m.name);
///     println!("{} on node {} in {:?}: {name:?}", socket.id(), socket.node(), socket.rooms());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    id: String,
    fd: Fd,
    rooms: Vec<String>,
    meta: Option<Arc<str>>,
    namespace: Arc<str>,
    sender: Sender,
    recovery: Arc<Recovery>,
}

impl RemoteSocket {
    /// The socket's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The fd of its connection.
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// The node that holds it (named by its fd).
    pub fn node(&self) -> NodeId {
        self.fd.node()
    }

    /// Its rooms in the namespace, sorted, its own (named by its id) included.
    pub fn rooms(&self) -> &[String] {
        &self.rooms
    }

    /// Its metadata from [`Socket::set_presence`](super::Socket::set_presence) as `T`;
    /// `Ok(None)` when it is not tracked.
    pub fn presence<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        self.meta.as_deref().map(serde_json::from_str).transpose()
    }

    /// Its metadata as JSON, when it is tracked.
    pub fn presence_json(&self) -> Option<serde_json::Value> {
        super::presence::meta_value(self.meta.as_deref())
    }

    /// Sends `event` with `data` to this socket, wherever it is.
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        let mut payload = data.into_payload()?;
        let audience = Audience::socket(&self.id);
        if let Some(offset) =
            record(&self.recovery, &self.namespace, event, &payload, audience).await?
        {
            payload.push_arg(serde_json::Value::String(offset));
        }
        let (text, binaries) = event_packet(&self.namespace, event, payload, None);
        self.sender.push(self.fd, text).await?;
        for binary in binaries {
            self.sender.push(self.fd, binary).await?;
        }
        Ok(())
    }

    /// Closes the socket's connection (every namespace it joined): its node runs
    /// `on_disconnect` with [`DisconnectReason::TransportClose`](super::DisconnectReason).
    pub async fn disconnect(&self) -> Result<(), EmitError> {
        self.sender.disconnect(self.fd).await?;
        Ok(())
    }
}

/// Whom a recorded emit was for.
pub(crate) struct Audience {
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
    pub(crate) except_socket: Option<String>,
}

impl Audience {
    /// One socket, by the room its id names.
    pub(crate) fn socket(id: &str) -> Self {
        Self {
            rooms: vec![id.to_owned()],
            except: Vec::new(),
            except_socket: None,
        }
    }
}

/// Records an emit of `event` for recovery, when `namespace` recovers sessions: its offset,
/// which goes out as the emit's last argument.
///
/// Every emit that is no acknowledgement is recorded there, to one socket too (as Socket.IO
/// does): the client takes the last string argument of every event for an offset, so an event
/// without one would leave it an offset the stream does not know.
pub(crate) async fn record(
    recovery: &Recovery,
    namespace: &str,
    event: &str,
    payload: &Payload,
    audience: Audience,
) -> Result<Option<String>, EmitError> {
    if !recovery.covers(namespace) {
        return Ok(None);
    }
    let mut args = Vec::with_capacity(payload.args().len() + 1);
    args.push(serde_json::Value::String(event.to_owned()));
    args.extend(payload.args().iter().cloned());
    let recorded = Recorded {
        rooms: audience.rooms,
        except: audience.except,
        except_socket: audience.except_socket,
        ..Recorded::new(args, payload.attachments())
    };
    Ok(recovery.record(namespace, &recorded).await?)
}
