//! The framework's own RFC 6455 framing: decoding what clients send, encoding what they get.
//!
//! tungstenite supplies the message types; the wire work is done here because it decides three
//! things the framework is measured on (see `docs/performance.md`):
//!
//! - **Memory per idle connection.** Both buffers are released whenever a connection has nothing
//!   half-read or unsent, so an idle connection holds no buffer at all; tungstenite keeps its
//!   read buffer (4 KiB at the least) for the connection's life.
//! - **Copies.** A received frame's payload is handed to the handler as a slice of the read
//!   buffer, and a large outgoing payload is written from the caller's own `Bytes` with
//!   vectored writes, so an echoed 16 KiB message is never copied in user space.
//! - **Fail-fast validation.** A text frame that arrives over several reads is unmasked and
//!   UTF-8-checked as it arrives (RFC 6455 §8.1), without a second pass over every read.
//!
//! permessage-deflate (RFC 7692) sits in [`deflate`]: the decoder inflates a compressed message
//! within the message limit, the encoder compresses what it sends, and a room push compresses
//! once for every member ([`compressed_frame`]).

mod decoder;
mod deflate;
mod encoder;
pub(crate) mod head;
mod utf8;

pub(crate) use decoder::{Decoder, Limits, Violation};
pub(crate) use deflate::{Deflater, InflateError, Inflater, Outgoing, Params, compressed_frame};
pub(crate) use encoder::{Encoder, whole_frame};
pub(crate) use head::opcode;
