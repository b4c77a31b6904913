//! Decoding a [`Frame`] (the format is the parent module's text): bounds-checked reads that
//! turn any malformed input into a [`DecodeError`], never a panic.

use bytes::{Buf, Bytes};

use super::{DecodeError, Frame, VERSION};
use crate::cluster::command::{Command, MemberInfo, Reply};
use crate::ws::message::{CloseCode, CloseFrame, Message, Utf8Bytes};
use crate::{Fd, NodeId, SendError};

/// Decodes one frame; `bytes` must hold exactly one.
pub(crate) fn decode(bytes: Bytes) -> Result<Frame, DecodeError> {
    let mut r = Reader(bytes);
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let kind = r.u8()?;
    let origin = NodeId(r.u16()?);
    let id = r.u64()?;
    let frame = match kind {
        1 => Frame::Request {
            origin,
            id,
            command: r.command()?,
        },
        2 => Frame::Reply {
            origin,
            id,
            reply: r.reply()?,
        },
        3 => Frame::Cast {
            origin,
            command: r.command()?,
        },
        tag => return Err(DecodeError::Tag { what: "frame", tag }),
    };
    if r.0.has_remaining() {
        return Err(DecodeError::Trailing(r.0.remaining()));
    }
    Ok(frame)
}

struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.0.remaining() < n {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.0.get_u16())
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.0.get_u32())
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.need(8)?;
        Ok(self.0.get_u64())
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u32()? as usize;
        self.need(len)?;
        Ok(self.0.split_to(len))
    }

    fn text(&mut self) -> Result<Utf8Bytes, DecodeError> {
        Utf8Bytes::try_from(self.bytes()?).map_err(|_| DecodeError::Utf8)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        Ok(self.text()?.as_str().to_owned())
    }

    /// A counted list; a forged count fails at the first missing item, never allocating for it.
    fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        let count = self.u32()?;
        let mut strings = Vec::new();
        for _ in 0..count {
            strings.push(self.string()?);
        }
        Ok(strings)
    }

    fn member(&mut self) -> Result<MemberInfo, DecodeError> {
        Ok(MemberInfo {
            fd: Fd(self.u64()?),
            rooms: self.strings()?,
            meta: match self.u8()? {
                0 => None,
                1 => Some(self.string()?),
                tag => return Err(DecodeError::Tag { what: "meta", tag }),
            },
        })
    }

    fn except(&mut self) -> Result<Option<Fd>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(Fd(self.u64()?))),
            tag => Err(DecodeError::Tag {
                what: "except",
                tag,
            }),
        }
    }

    fn message(&mut self) -> Result<Message, DecodeError> {
        Ok(match self.u8()? {
            1 => Message::Text(self.text()?),
            2 => Message::Binary(self.bytes()?),
            3 => Message::Ping(self.bytes()?),
            4 => Message::Pong(self.bytes()?),
            5 => match self.u8()? {
                0 => Message::Close(None),
                1 => {
                    let code = CloseCode::from(self.u16()?);
                    Message::Close(Some(CloseFrame {
                        code,
                        reason: self.text()?,
                    }))
                }
                tag => return Err(DecodeError::Tag { what: "close", tag }),
            },
            tag => {
                return Err(DecodeError::Tag {
                    what: "message",
                    tag,
                });
            }
        })
    }

    fn command(&mut self) -> Result<Command, DecodeError> {
        Ok(match self.u8()? {
            1 => Command::Push {
                fd: Fd(self.u64()?),
                message: self.message()?,
            },
            2 => Command::Disconnect {
                fd: Fd(self.u64()?),
                code: self.u16()?,
                reason: self.string()?,
            },
            3 => Command::Exists {
                fd: Fd(self.u64()?),
            },
            4 => Command::Broadcast {
                message: self.message()?,
                except: self.except()?,
            },
            5 => Command::RoomPush {
                room: self.string()?,
                message: self.message()?,
                except: self.except()?,
            },
            6 => Command::RoomMembers {
                room: self.string()?,
            },
            7 => Command::Describe {
                rooms: self.strings()?,
                except: self.strings()?,
                meta_key: self.string()?,
            },
            8 => Command::Notice {
                topic: self.string()?,
                body: self.bytes()?,
            },
            tag => {
                return Err(DecodeError::Tag {
                    what: "command",
                    tag,
                });
            }
        })
    }

    fn reply(&mut self) -> Result<Reply, DecodeError> {
        Ok(match self.u8()? {
            1 => Reply::Ok,
            2 => Reply::Exists(self.u8()? != 0),
            3 => Reply::Delivered(usize::try_from(self.u64()?).unwrap_or(usize::MAX)),
            4 => Reply::Failed(match self.u8()? {
                1 => SendError::NotConnected(Fd(self.u64()?)),
                2 => SendError::Backpressure(Fd(self.u64()?)),
                3 => SendError::BrokerUnavailable(self.string()?),
                4 => SendError::Timeout {
                    node: NodeId(self.u16()?),
                    millis: self.u64()?,
                },
                tag => return Err(DecodeError::Tag { what: "error", tag }),
            }),
            5 => {
                let count = self.u32()? as usize;
                // Checked before allocating, so a forged count cannot reserve gigabytes.
                self.need(count.saturating_mul(8))?;
                Reply::Members((0..count).map(|_| Fd(self.0.get_u64())).collect())
            }
            6 => {
                let count = self.u32()?;
                let mut members = Vec::new();
                for _ in 0..count {
                    members.push(self.member()?);
                }
                Reply::Described(members)
            }
            tag => return Err(DecodeError::Tag { what: "reply", tag }),
        })
    }
}
