//! Messages in, server frames out.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

use super::deflate::Deflater;
use super::head::{self, RSV1, opcode};
use crate::ws::message::{CloseFrame, Message};

/// Payloads shorter than this are copied next to their header, so a burst of small messages
/// leaves in one contiguous write; longer ones are written from their own buffer, uncopied.
const COPY_BELOW: usize = 1024;

/// The first allocation of the staging buffer. The buffer is freed whenever the connection goes
/// idle, so a connection that is sent one message at a time (a room member, a client pushed to
/// from HTTP) allocates it once per message: at this size the allocator serves it from its
/// per-thread cache. At 4 KiB, allocating and freeing it cost ~500 instructions per message,
/// a sixth of what a room member's task did per broadcast (callgrind). Bursts grow it.
const STAGING_SIZE: usize = 1024;

/// Most buffers handed to one vectored write. Segments are payloads of 1 KiB or more, so this
/// is at least 16 KiB per write; the array is filled on every write, and at 64 slices that
/// alone was ~200 instructions per message for a room member (callgrind).
const MAX_SLICES: usize = 16;

/// `message` as one final frame, header and payload in one buffer: a room push encodes it once
/// and writes the same bytes to every member. `None` for control frames and raw frames, which
/// are never pushed to a room.
pub(crate) fn whole_frame(message: &Message) -> Option<Bytes> {
    let (opcode, payload): (u8, &[u8]) = match message {
        Message::Text(text) => (opcode::TEXT, text.as_bytes()),
        Message::Binary(data) => (opcode::BINARY, data),
        _ => return None,
    };
    let mut frame = BytesMut::with_capacity(head::MAX_SIZE + payload.len());
    head::encode(opcode, payload.len(), &mut frame);
    frame.extend_from_slice(payload);
    Some(frame.freeze())
}

/// Frames waiting for the socket.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    /// Headers and small payloads not sealed into a segment yet.
    staging: BytesMut,
    /// What goes out next, in order.
    segments: VecDeque<Bytes>,
    /// Bytes in `staging` and `segments`.
    queued: usize,
    /// permessage-deflate, when the handshake agreed on it and the route allows it.
    deflater: Option<Deflater>,
    /// Messages compressed since the last [`take_compressions`](Self::take_compressions).
    compressions: u32,
}

impl Encoder {
    /// An encoder that compresses what `deflater` applies to.
    pub(crate) fn deflating(deflater: Option<Deflater>) -> Self {
        Self {
            deflater,
            ..Self::default()
        }
    }

    /// How many messages were compressed since the last call.
    pub(crate) fn take_compressions(&mut self) -> u32 {
        std::mem::take(&mut self.compressions)
    }

    /// Bytes waiting to be written.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Queues one message as a single final frame.
    pub(crate) fn message(&mut self, message: Message) {
        match message {
            Message::Text(text) => self.data(opcode::TEXT, text.into()),
            Message::Binary(data) => self.data(opcode::BINARY, data),
            Message::Ping(data) => self.frame(opcode::PING, data),
            Message::Pong(data) => self.frame(opcode::PONG, data),
            Message::Close(frame) => self.close(frame.as_ref()),
            Message::Frame(frame) => {
                // A raw frame is written as the caller built it.
                let mut raw = Vec::with_capacity(frame.len());
                if frame.format(&mut raw).is_ok() {
                    self.raw(raw.into());
                }
            }
        }
    }

    /// Queues bytes that are already framed (a raw frame, the end of a frame a push began
    /// writing).
    pub(crate) fn raw(&mut self, bytes: Bytes) {
        self.seal();
        self.queued += bytes.len();
        self.segments.push_back(bytes);
    }

    /// Queues a close frame: the code and reason, or an empty payload.
    pub(crate) fn close(&mut self, frame: Option<&CloseFrame>) {
        let mut payload = BytesMut::new();
        if let Some(frame) = frame {
            payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
            payload.extend_from_slice(frame.reason.as_bytes());
        }
        self.frame(opcode::CLOSE, payload.freeze());
    }

    /// A data message: compressed when the connection agreed on it and it is long enough.
    fn data(&mut self, opcode: u8, payload: Bytes) {
        match &mut self.deflater {
            Some(deflater) if deflater.outgoing.applies_to(payload.len()) => {
                let compressed = deflater.compress(&payload);
                self.compressions += 1;
                self.flagged_frame(RSV1, opcode, compressed);
            }
            _ => self.frame(opcode, payload),
        }
    }

    fn frame(&mut self, opcode: u8, payload: Bytes) {
        self.flagged_frame(0, opcode, payload);
    }

    fn flagged_frame(&mut self, flags: u8, opcode: u8, payload: Bytes) {
        if self.staging.capacity() == 0 {
            self.staging.reserve(STAGING_SIZE);
        }
        let before = self.staging.len();
        head::encode_flagged(flags, opcode, payload.len(), &mut self.staging);
        self.queued += self.staging.len() - before + payload.len();
        if payload.len() < COPY_BELOW {
            self.staging.extend_from_slice(&payload);
        } else {
            self.seal();
            self.segments.push_back(payload);
        }
    }

    /// Moves what is staged into a segment of its own.
    fn seal(&mut self) {
        if !self.staging.is_empty() {
            self.segments.push_back(self.staging.split().freeze());
        }
    }

    /// Writes everything queued; `Pending` while the socket is full.
    ///
    /// What is staged goes out after the segments straight from the staging buffer: sealing it
    /// into a segment first would cost an allocation per write (the shared header `Bytes`
    /// needs, and the segment queue itself) for nothing.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        while self.queued > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            let staged = (!self.staging.is_empty()).then_some(&self.staging[..]);
            for (slot, part) in slices
                .iter_mut()
                .zip(self.segments.iter().map(|s| &s[..]).chain(staged))
            {
                *slot = IoSlice::new(part);
                count += 1;
            }
            // One buffer (a burst of small frames, one pushed message) goes out with a plain
            // write: on a TCP socket that is `send`, which skips the file-position lock and the
            // iovec import of `writev`, ~8% of the server's CPU per room member (perf).
            let mut written = ready!(if count == 1 {
                Pin::new(&mut *io).poll_write(cx, &slices[0])
            } else {
                Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count])
            })?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.queued -= written;
            while written > 0 {
                let Some(front) = self.segments.front_mut() else {
                    // Past every segment: the rest came out of the staging buffer.
                    self.staging.advance(written);
                    break;
                };
                if front.len() <= written {
                    written -= front.len();
                    self.segments.pop_front();
                } else {
                    front.advance(written);
                    written = 0;
                }
            }
        }
        Pin::new(io).poll_flush(cx)
    }

    /// Frees the buffers of an encoder with nothing queued.
    pub(crate) fn release(&mut self) {
        if self.is_empty() && (self.staging.capacity() > 0 || self.segments.capacity() > 0) {
            self.staging = BytesMut::new();
            self.segments = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::codec::head::Head;

    /// The frames in `wire`: opcode and payload.
    fn frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(head) = Head::parse(wire) {
            let end = head.size + head.len as usize;
            out.push((head.opcode, wire[head.size..end].to_vec()));
            wire = &wire[end..];
        }
        assert!(wire.is_empty(), "trailing bytes");
        out
    }

    #[tokio::test]
    async fn small_and_large_payloads_go_out_in_order() {
        let large = Bytes::from(vec![9u8; 20_000]);
        let mut encoder = Encoder::default();
        encoder.message(Message::text("a"));
        encoder.message(Message::Binary(large.clone()));
        encoder.message(Message::Pong(Bytes::from_static(b"p")));
        encoder.close(Some(&crate::ws::message::close_frame(1000, "bye")));
        let queued = encoder.queued();
        let mut wire = Vec::new();
        std::future::poll_fn(|cx| encoder.poll_write(cx, &mut wire))
            .await
            .expect("a Vec accepts every write");
        assert_eq!(wire.len(), queued);
        assert!(encoder.is_empty());
        let decoded = frames(&wire);
        assert_eq!(decoded[0], (opcode::TEXT, b"a".to_vec()));
        assert_eq!(decoded[1], (opcode::BINARY, large.to_vec()));
        assert_eq!(decoded[2], (opcode::PONG, b"p".to_vec()));
        assert_eq!(decoded[3], (opcode::CLOSE, b"\x03\xe8bye".to_vec()));
        encoder.release();
        assert_eq!(encoder.staging.capacity(), 0);
    }
}
