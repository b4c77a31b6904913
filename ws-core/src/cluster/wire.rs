//! The binary encoding of what nodes send each other over the broker.
//!
//! One broker message carries one [`Frame`]. All integers are big-endian; strings and payloads
//! are a `u32` length followed by the bytes. JSON would cost a copy and an escape pass per
//! payload and cannot carry binary messages without base64; this format copies a payload once
//! into the frame and decodes it without another copy (`Bytes::slice`).
//!
//! ```text
//! frame   = version:u8 kind:u8 origin:u16 id:u64 body
//! kind    = 1 request (body = command) | 2 reply (body = reply) | 3 cast (body = command)
//! command = 1 push fd:u64 message
//!         | 2 disconnect fd:u64 code:u16 reason:str
//!         | 3 exists fd:u64
//!         | 4 broadcast message except
//!         | 5 room-push room:str message except
//!         | 6 room-members room:str
//!         | 7 describe rooms:strs except:strs meta-key:str
//!         | 8 notice topic:str body:bytes
//! strs    = count:u32 str*count
//! message = 1 text str | 2 binary bytes | 3 ping bytes | 4 pong bytes
//!         | 5 close (0 | 1 code:u16 reason:str)
//! except  = 0 | 1 fd:u64
//! reply   = 1 ok | 2 exists bool:u8 | 3 delivered n:u64 | 4 failed error
//!         | 5 members count:u32 fd:u64*count
//!         | 6 described count:u32 (fd:u64 rooms:strs meta)*count
//! meta    = 0 | 1 str
//! error   = 1 not-connected fd:u64 | 2 backpressure fd:u64 | 3 broker-unavailable str
//!         | 4 timeout node:u16 millis:u64
//! ```
//!
//! Decoding never panics: every read is bounds-checked and a malformed frame is a
//! [`DecodeError`], so a foreign publisher on a shared prefix cannot crash a node.

use bytes::{BufMut, Bytes, BytesMut};

use super::command::{Command, MemberInfo, Reply};
use crate::ws::message::Message;
use crate::{Fd, NodeId, SendError};

/// Bumped on any incompatible change, so mixed-version clusters reject each other's frames
/// instead of misreading them.
const VERSION: u8 = 1;

/// One message between nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// A command that expects a [`Frame::Reply`] with the same `id`.
    Request {
        origin: NodeId,
        id: u64,
        command: Command,
    },
    /// The answer to a request.
    Reply {
        origin: NodeId,
        id: u64,
        reply: Reply,
    },
    /// A command for every node, answered by nobody (broadcast, room push).
    Cast { origin: NodeId, command: Command },
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncodeError {
    /// Raw frames are a tungstenite internal; they have no meaning on another node.
    #[error("raw WebSocket frames cannot be sent to another node")]
    RawFrame,
    /// A length does not fit the `u32` length prefix.
    #[error("a field of {0} bytes is too large for the cluster wire format")]
    TooLarge(usize),
}

/// Why received bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("frame truncated")]
    Truncated,
    #[error("unsupported frame version {0}")]
    Version(u8),
    #[error("unknown {what} tag {tag}")]
    Tag { what: &'static str, tag: u8 },
    #[error("text is not valid UTF-8")]
    Utf8,
    #[error("{0} trailing bytes after the frame")]
    Trailing(usize),
}

impl From<EncodeError> for SendError {
    fn from(error: EncodeError) -> Self {
        // Not a broker fault, but the only variant that says "this did not leave the node".
        SendError::BrokerUnavailable(error.to_string())
    }
}

/// Encodes `frame` into one buffer.
pub(crate) fn encode(frame: &Frame) -> Result<Bytes, EncodeError> {
    let mut out = BytesMut::with_capacity(64);
    out.put_u8(VERSION);
    match frame {
        Frame::Request {
            origin,
            id,
            command,
        } => {
            out.put_u8(1);
            out.put_u16(origin.0);
            out.put_u64(*id);
            put_command(&mut out, command)?;
        }
        Frame::Reply { origin, id, reply } => {
            out.put_u8(2);
            out.put_u16(origin.0);
            out.put_u64(*id);
            put_reply(&mut out, reply)?;
        }
        Frame::Cast { origin, command } => {
            out.put_u8(3);
            out.put_u16(origin.0);
            out.put_u64(0);
            put_command(&mut out, command)?;
        }
    }
    Ok(out.freeze())
}

fn put_len(out: &mut BytesMut, len: usize) -> Result<(), EncodeError> {
    let len32 = u32::try_from(len).map_err(|_| EncodeError::TooLarge(len))?;
    out.put_u32(len32);
    Ok(())
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8]) -> Result<(), EncodeError> {
    put_len(out, bytes.len())?;
    out.put_slice(bytes);
    Ok(())
}

fn put_except(out: &mut BytesMut, except: Option<Fd>) {
    match except {
        None => out.put_u8(0),
        Some(fd) => {
            out.put_u8(1);
            out.put_u64(fd.0);
        }
    }
}

fn put_message(out: &mut BytesMut, message: &Message) -> Result<(), EncodeError> {
    out.reserve(5 + message.len());
    match message {
        Message::Text(text) => {
            out.put_u8(1);
            put_bytes(out, text.as_bytes())
        }
        Message::Binary(data) => {
            out.put_u8(2);
            put_bytes(out, data)
        }
        Message::Ping(data) => {
            out.put_u8(3);
            put_bytes(out, data)
        }
        Message::Pong(data) => {
            out.put_u8(4);
            put_bytes(out, data)
        }
        Message::Close(frame) => {
            out.put_u8(5);
            match frame {
                None => out.put_u8(0),
                Some(frame) => {
                    out.put_u8(1);
                    out.put_u16(u16::from(frame.code));
                    put_bytes(out, frame.reason.as_bytes())?;
                }
            }
            Ok(())
        }
        Message::Frame(_) => Err(EncodeError::RawFrame),
    }
}

fn put_command(out: &mut BytesMut, command: &Command) -> Result<(), EncodeError> {
    match command {
        Command::Push { fd, message } => {
            out.put_u8(1);
            out.put_u64(fd.0);
            put_message(out, message)?;
        }
        Command::Disconnect { fd, code, reason } => {
            out.put_u8(2);
            out.put_u64(fd.0);
            out.put_u16(*code);
            put_bytes(out, reason.as_bytes())?;
        }
        Command::Exists { fd } => {
            out.put_u8(3);
            out.put_u64(fd.0);
        }
        Command::Broadcast { message, except } => {
            out.put_u8(4);
            put_message(out, message)?;
            put_except(out, *except);
        }
        Command::RoomPush {
            room,
            message,
            except,
        } => {
            out.put_u8(5);
            put_bytes(out, room.as_bytes())?;
            put_message(out, message)?;
            put_except(out, *except);
        }
        Command::RoomMembers { room } => {
            out.put_u8(6);
            put_bytes(out, room.as_bytes())?;
        }
        Command::Describe {
            rooms,
            except,
            meta_key,
        } => {
            out.put_u8(7);
            put_strings(out, rooms)?;
            put_strings(out, except)?;
            put_bytes(out, meta_key.as_bytes())?;
        }
        Command::Notice { topic, body } => {
            out.put_u8(8);
            put_bytes(out, topic.as_bytes())?;
            put_bytes(out, body)?;
        }
    }
    Ok(())
}

fn put_strings(out: &mut BytesMut, strings: &[String]) -> Result<(), EncodeError> {
    put_len(out, strings.len())?;
    for string in strings {
        put_bytes(out, string.as_bytes())?;
    }
    Ok(())
}

fn put_member(out: &mut BytesMut, member: &MemberInfo) -> Result<(), EncodeError> {
    out.put_u64(member.fd.0);
    put_strings(out, &member.rooms)?;
    match &member.meta {
        None => out.put_u8(0),
        Some(meta) => {
            out.put_u8(1);
            put_bytes(out, meta.as_bytes())?;
        }
    }
    Ok(())
}

fn put_reply(out: &mut BytesMut, reply: &Reply) -> Result<(), EncodeError> {
    match reply {
        Reply::Ok => out.put_u8(1),
        Reply::Exists(found) => {
            out.put_u8(2);
            out.put_u8(u8::from(*found));
        }
        Reply::Delivered(n) => {
            out.put_u8(3);
            out.put_u64(*n as u64);
        }
        Reply::Failed(error) => {
            out.put_u8(4);
            match error {
                SendError::NotConnected(fd) => {
                    out.put_u8(1);
                    out.put_u64(fd.0);
                }
                SendError::Backpressure(fd) => {
                    out.put_u8(2);
                    out.put_u64(fd.0);
                }
                SendError::BrokerUnavailable(why) => {
                    out.put_u8(3);
                    put_bytes(out, why.as_bytes())?;
                }
                SendError::Timeout { node, millis } => {
                    out.put_u8(4);
                    out.put_u16(node.0);
                    out.put_u64(*millis);
                }
            }
        }
        Reply::Members(fds) => {
            out.put_u8(5);
            put_len(out, fds.len())?;
            for fd in fds {
                out.put_u64(fd.0);
            }
        }
        Reply::Described(members) => {
            out.put_u8(6);
            put_len(out, members.len())?;
            for member in members {
                put_member(out, member)?;
            }
        }
    }
    Ok(())
}

#[path = "wire_reading.rs"]
mod reading;

pub(crate) use reading::decode;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
