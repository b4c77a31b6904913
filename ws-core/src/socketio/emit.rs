//! [`Operator`]: an emit to rooms of a namespace across the cluster, and what it can fail with.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::packet::Kind;
use super::payload::IntoPayload;
use super::socket::{event_packet, frames, socket_id};
use crate::ws::message::Message;
use crate::{Fd, SendError, Sender};

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
}

impl Operator {
    pub(crate) fn new(sender: Sender, namespace: Arc<str>) -> Self {
        Self {
            sender,
            namespace,
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except_fd: None,
        }
    }

    pub(crate) fn except_fd(mut self, fd: Fd) -> Self {
        self.except_fd = Some(fd);
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
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        let (text, binaries) = event_packet(&self.namespace, event, data.into_payload()?, None);
        let messages: Vec<Message> = std::iter::once(text).chain(binaries).collect();
        let keys = self.target_keys();
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

    /// The connections selected, each once.
    async fn selected(&self) -> Result<BTreeSet<Fd>, EmitError> {
        let mut fds = BTreeSet::new();
        for key in self.target_keys() {
            fds.extend(self.sender.room_members(&key).await?);
        }
        for room in &self.except_rooms {
            let key = room_key(&self.namespace, room);
            for fd in self.sender.room_members(&key).await? {
                fds.remove(&fd);
            }
        }
        if let Some(fd) = self.except_fd {
            fds.remove(&fd);
        }
        Ok(fds)
    }

    /// The selected sockets, on every node (Socket.IO's `fetchSockets`).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, EmitError> {
        Ok(self
            .selected()
            .await?
            .into_iter()
            .map(|fd| RemoteSocket {
                id: socket_id(fd),
                fd,
                namespace: self.namespace.clone(),
                sender: self.sender.clone(),
            })
            .collect())
    }

    /// How many sockets are selected, counted across the cluster.
    pub async fn size(&self) -> Result<usize, EmitError> {
        Ok(self.selected().await?.len())
    }
}

/// A socket found by [`Operator::fetch_sockets`], on this node or another.
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    id: String,
    fd: Fd,
    namespace: Arc<str>,
    sender: Sender,
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

    /// Sends `event` with `data` to this socket, wherever it is.
    pub async fn emit(&self, event: &str, data: impl IntoPayload) -> Result<(), EmitError> {
        let (text, binaries) = event_packet(&self.namespace, event, data.into_payload()?, None);
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

/// The frames of an acknowledgement.
pub(crate) fn ack_frames(
    namespace: &str,
    id: u64,
    payload: super::Payload,
) -> (Message, Vec<Message>) {
    let (args, attachments) = payload.into_parts();
    frames(Kind::Ack, namespace, Some(id), args, attachments)
}
