//! What nodes ask of each other, and what they answer.

use bytes::Bytes;

use crate::ws::message::Message;
use crate::{Fd, SendError};

/// What one node asks of another.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// Push a message to a connection the receiving node holds.
    Push {
        /// The connection.
        fd: Fd,
        /// The message.
        message: Message,
    },
    /// Close a connection the receiving node holds.
    Disconnect {
        /// The connection.
        fd: Fd,
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Whether the receiving node holds `fd`.
    Exists {
        /// The connection.
        fd: Fd,
    },
    /// Push to every connection of the receiving node.
    Broadcast {
        /// The message.
        message: Message,
        /// A connection to skip.
        except: Option<Fd>,
    },
    /// Push to every local member of a room.
    RoomPush {
        /// The room.
        room: String,
        /// The message.
        message: Message,
        /// A connection to skip.
        except: Option<Fd>,
    },
    /// The receiving node's members of a room.
    RoomMembers {
        /// The room.
        room: String,
    },
    /// The receiving node's members of any of `rooms` and of none of `except`, each with its
    /// rooms and the JSON text its context holds under `meta_key`: a whole presence listing
    /// in one request per node.
    Describe {
        /// The rooms whose members are wanted.
        rooms: Vec<String>,
        /// The rooms whose members are left out.
        except: Vec<String>,
        /// The context key of each member's JSON metadata (a `String`).
        meta_key: String,
    },
    /// A notice for the listeners of every node (a cast; nobody answers it).
    Notice {
        /// What the notice is about; listeners keep the topics they know.
        topic: String,
        /// The notice, encoded by whoever sent it.
        body: Bytes,
    },
}

/// One connection in the answer to [`Command::Describe`].
///
/// ```
/// use ws_core::{ClusterMember, ClusterReply, Fd};
///
/// let member = ClusterMember { fd: Fd(7), rooms: vec!["lobby".into()], meta: None };
/// let reply = ClusterReply::Described(vec![member.clone()]);
/// assert_eq!(reply, ClusterReply::Described(vec![member]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The connection.
    pub fd: Fd,
    /// Every room it is in, as the registry names them.
    pub rooms: Vec<String>,
    /// The JSON text its context holds under the asked key, if any.
    pub meta: Option<String>,
}

/// A node's answer to a [`Command`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// Done.
    Ok,
    /// The answer to [`Command::Exists`].
    Exists(bool),
    /// How many local connections got the message.
    Delivered(usize),
    /// The command failed on the receiving node.
    Failed(SendError),
    /// The answer to [`Command::RoomMembers`], sorted.
    Members(Vec<Fd>),
    /// The answer to [`Command::Describe`], in fd order.
    Described(Vec<MemberInfo>),
}

impl From<Result<(), SendError>> for Reply {
    fn from(result: Result<(), SendError>) -> Self {
        match result {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::Failed(e),
        }
    }
}

/// What a node that holds no connections answers: the reply for a node known to be dead.
pub(crate) fn dead_reply(command: &Command) -> Reply {
    match command {
        Command::Push { fd, .. } | Command::Disconnect { fd, .. } => {
            Reply::Failed(SendError::NotConnected(*fd))
        }
        Command::Exists { .. } => Reply::Exists(false),
        Command::Broadcast { .. } | Command::RoomPush { .. } | Command::Notice { .. } => {
            Reply::Delivered(0)
        }
        Command::RoomMembers { .. } => Reply::Members(Vec::new()),
        Command::Describe { .. } => Reply::Described(Vec::new()),
    }
}
