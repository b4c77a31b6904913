//! Client frames in, messages out.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncRead;

use super::deflate::{InflateError, Inflater, Params};
use super::head::{Head, RSV1_BIT, opcode, unmask};
use super::utf8::Utf8Stream;
use crate::ws::message::{CloseCode, CloseFrame, Message, Utf8Bytes};

/// The bounds one connection's decoder enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
    pub(crate) max_message: usize,
    /// Bytes asked of the socket per read.
    pub(crate) read_size: usize,
}

/// The client broke the protocol; the connection is closed with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) code: u16,
    pub(crate) reason: Cow<'static, str>,
}

impl Violation {
    fn protocol(reason: &'static str) -> Self {
        Self {
            code: 1002,
            reason: Cow::Borrowed(reason),
        }
    }

    fn too_big(size: u64, max: usize) -> Self {
        Self {
            code: 1009,
            reason: Cow::Owned(format!(
                "message of {size} bytes exceeds the limit of {max}"
            )),
        }
    }

    fn inflate(error: InflateError, max: usize) -> Self {
        match error {
            InflateError::TooBig => Self {
                code: 1009,
                reason: Cow::Owned(format!("message inflates past the limit of {max} bytes")),
            },
            InflateError::Invalid => Self {
                code: 1007,
                reason: Cow::Borrowed("invalid compressed data"),
            },
        }
    }

    fn invalid_text() -> Self {
        Self {
            code: 1007,
            reason: Cow::Borrowed("invalid UTF-8 in a text message"),
        }
    }
}

/// A fragmented message being put back together.
#[derive(Debug)]
struct Fragments {
    text: bool,
    /// The frames of an uncompressed message.
    data: BytesMut,
    /// Whether the message is compressed (its first frame had RSV1).
    compressed: bool,
    /// A compressed message inflated so far.
    inflated: Vec<u8>,
}

impl Fragments {
    fn len(&self) -> usize {
        self.data.len() + self.inflated.len()
    }
}

/// Reads frames from the socket and assembles them into messages.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Bytes read and not decoded yet. Empty, with no allocation, while the connection is idle.
    buf: BytesMut,
    limits: Limits,
    /// The header of the frame whose payload is arriving; its bytes are gone from `buf`.
    head: Option<Head>,
    /// Payload bytes of that frame already unmasked (and, for text, validated).
    unmasked: usize,
    fragments: Option<Fragments>,
    /// Validates the text message in progress when it arrives in pieces.
    utf8: Utf8Stream,
    /// Whether `utf8` has seen the start of the current text message.
    streaming: bool,
    /// permessage-deflate, when the handshake agreed on it.
    inflater: Option<Inflater>,
}

/// The most room made at once for the rest of a large frame: the buffer grows with what
/// actually arrives, not with the length a header claims (a client announcing a 16 MiB frame and
/// sending nothing gets no 16 MiB buffer).
const MAX_RESERVE: usize = 256 * 1024;

impl Decoder {
    /// A decoder whose stream starts with `already_read` (bytes that followed the upgrade
    /// request in the same read).
    pub(crate) fn new(limits: Limits, already_read: Vec<u8>) -> Self {
        Self {
            buf: BytesMut::from(&already_read[..]),
            limits,
            head: None,
            unmasked: 0,
            fragments: None,
            utf8: Utf8Stream::default(),
            streaming: false,
            inflater: None,
        }
    }

    /// The decoder of a connection that agreed on permessage-deflate with `params`.
    pub(crate) fn inflating(mut self, params: Option<Params>) -> Self {
        self.inflater = params.map(Inflater::new);
        self
    }

    /// Whether nothing is half-read: the buffer may be let go.
    pub(crate) fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.head.is_none() && self.fragments.is_none()
    }

    /// Frees the read buffer of an idle connection; the next read allocates a fresh one.
    pub(crate) fn release(&mut self) {
        if self.is_idle() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Whether the read buffer is allocated (it is freed by [`release`](Self::release)).
    pub(crate) fn holds_buffer(&self) -> bool {
        self.buf.capacity() > 0
    }

    /// Reads more bytes from `io`; `Ok(0)` at the end of the stream.
    pub(crate) fn poll_fill<R: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut R,
    ) -> Poll<io::Result<usize>> {
        let read_size = self.limits.read_size;
        let wanted = match &self.head {
            // The rest of a large frame comes in larger reads.
            Some(head) => (head.len as usize)
                .saturating_sub(self.buf.len())
                .clamp(read_size, MAX_RESERVE.max(read_size)),
            None => read_size,
        };
        // Half the wanted room is enough for a worthwhile read; asking for all of it each time
        // would move or reallocate the buffer after nearly every read.
        if self.buf.capacity() - self.buf.len() < wanted / 2 + 1 {
            self.buf.reserve(wanted);
        }
        tokio_util::io::poll_read_buf(Pin::new(io), cx, &mut self.buf)
    }

    /// The next message already in the buffer, without touching the socket.
    pub(crate) fn next_buffered(&mut self) -> Result<Option<Message>, Violation> {
        loop {
            let head = match self.head {
                Some(head) => head,
                None => {
                    let Some(head) = Head::parse(&self.buf) else {
                        return Ok(None);
                    };
                    self.check_head(&head)?;
                    self.buf.advance(head.size);
                    self.head = Some(head);
                    self.unmasked = 0;
                    head
                }
            };
            // `check_head` bounded the length by `max_frame`, a `usize`.
            let len = head.len as usize;
            // A compressed text message is validated once inflated.
            let text = self.is_text(&head) && !self.is_compressed(&head);
            if self.buf.len() < len {
                // Fail fast: a text frame still arriving is checked as far as it got.
                if text {
                    self.check_arrived(&head)?;
                }
                return Ok(None);
            }
            self.head = None;
            let mut payload = self.buf.split_to(len);
            if let Some(mask) = head.mask {
                unmask(&mut payload[self.unmasked..], mask, self.unmasked);
            }
            if text && (self.streaming || !head.fin || head.opcode == opcode::CONTINUATION) {
                stream_text(
                    &mut self.streaming,
                    &mut self.utf8,
                    &head,
                    &payload[self.unmasked..],
                )?;
            }
            if let Some(message) = self.complete(head, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Whether the frame carries (part of) a text message.
    fn is_text(&self, head: &Head) -> bool {
        match head.opcode {
            opcode::TEXT => true,
            opcode::CONTINUATION => self.fragments.as_ref().is_some_and(|f| f.text),
            _ => false,
        }
    }

    /// Whether the frame carries (part of) a compressed message.
    fn is_compressed(&self, head: &Head) -> bool {
        match head.opcode {
            opcode::CONTINUATION => self.fragments.as_ref().is_some_and(|f| f.compressed),
            _ => head.rsv & RSV1_BIT != 0,
        }
    }

    /// RFC 6455 §5.2–5.5 and RFC 7692 §6: what a header may say, given the message in progress.
    fn check_head(&self, head: &Head) -> Result<(), Violation> {
        if head.rsv & !RSV1_BIT != 0 || (head.rsv != 0 && self.inflater.is_none()) {
            return Err(Violation::protocol(
                "reserved bits set without an extension",
            ));
        }
        if head.rsv != 0 && !matches!(head.opcode, opcode::TEXT | opcode::BINARY) {
            return Err(Violation::protocol(
                "RSV1 set on a frame that does not start a data message",
            ));
        }
        if head.mask.is_none() {
            return Err(Violation::protocol("unmasked frame from a client"));
        }
        match head.opcode {
            opcode::CLOSE | opcode::PING | opcode::PONG => {
                if !head.fin {
                    return Err(Violation::protocol("fragmented control frame"));
                }
                if head.len > 125 {
                    return Err(Violation::protocol("control frame payload over 125 bytes"));
                }
                return Ok(());
            }
            opcode::TEXT | opcode::BINARY if self.fragments.is_some() => {
                return Err(Violation::protocol(
                    "new message before the fragmented one finished",
                ));
            }
            opcode::CONTINUATION if self.fragments.is_none() => {
                return Err(Violation::protocol(
                    "continuation frame without a message to continue",
                ));
            }
            opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => {}
            _ => return Err(Violation::protocol("reserved opcode")),
        }
        if head.len > self.limits.max_frame as u64 {
            return Err(Violation::too_big(head.len, self.limits.max_frame));
        }
        let so_far = self.fragments.as_ref().map_or(0, |f| f.len() as u64);
        if so_far + head.len > self.limits.max_message as u64 {
            return Err(Violation::too_big(
                so_far + head.len,
                self.limits.max_message,
            ));
        }
        Ok(())
    }

    /// Unmasks and validates the part of a text frame that has arrived so far.
    fn check_arrived(&mut self, head: &Head) -> Result<(), Violation> {
        let arrived = self.buf.len();
        if arrived == self.unmasked {
            return Ok(());
        }
        if let Some(mask) = head.mask {
            unmask(&mut self.buf[self.unmasked..arrived], mask, self.unmasked);
        }
        let start = std::mem::replace(&mut self.unmasked, arrived);
        stream_text(
            &mut self.streaming,
            &mut self.utf8,
            head,
            &self.buf[start..arrived],
        )
    }

    /// A whole frame has arrived, unmasked; returns the message it completes, if any.
    fn complete(&mut self, head: Head, payload: BytesMut) -> Result<Option<Message>, Violation> {
        if self.is_compressed(&head) {
            return self.complete_compressed(head, &payload);
        }
        let payload = payload.freeze();
        match head.opcode {
            opcode::PING => Ok(Some(Message::Ping(payload))),
            opcode::PONG => Ok(Some(Message::Pong(payload))),
            opcode::CLOSE => close_message(&payload).map(Some),
            opcode::TEXT | opcode::BINARY if head.fin => {
                let text = head.opcode == opcode::TEXT;
                self.finish_message(text, payload).map(Some)
            }
            opcode::TEXT | opcode::BINARY => {
                let mut data = BytesMut::with_capacity(payload.len().max(1024));
                data.extend_from_slice(&payload);
                self.fragments = Some(Fragments {
                    text: head.opcode == opcode::TEXT,
                    data,
                    compressed: false,
                    inflated: Vec::new(),
                });
                Ok(None)
            }
            _ => {
                // `check_head` let a continuation through only with fragments in progress.
                let Some(fragments) = self.fragments.as_mut() else {
                    return Err(Violation::protocol(
                        "continuation frame without a message to continue",
                    ));
                };
                fragments.data.extend_from_slice(&payload);
                if !head.fin {
                    return Ok(None);
                }
                let Some(Fragments { text, data, .. }) = self.fragments.take() else {
                    return Ok(None);
                };
                self.finish_message(text, data.freeze()).map(Some)
            }
        }
    }

    /// A frame of a compressed message: inflated onto what the message holds so far, counting
    /// against the message limit as it inflates.
    fn complete_compressed(
        &mut self,
        head: Head,
        payload: &[u8],
    ) -> Result<Option<Message>, Violation> {
        let max = self.limits.max_message;
        let mut fragments = match self.fragments.take() {
            Some(fragments) => fragments,
            None => Fragments {
                text: head.opcode == opcode::TEXT,
                data: BytesMut::new(),
                compressed: true,
                inflated: Vec::new(),
            },
        };
        let Some(inflater) = self.inflater.as_mut() else {
            // `check_head` let a compressed frame through only with the extension agreed.
            return Err(Violation::protocol(
                "reserved bits set without an extension",
            ));
        };
        inflater
            .inflate(payload, head.fin, &mut fragments.inflated, max)
            .map_err(|error| Violation::inflate(error, max))?;
        if !head.fin {
            self.fragments = Some(fragments);
            return Ok(None);
        }
        let Fragments { text, inflated, .. } = fragments;
        self.finish_message(text, bytes::Bytes::from(inflated))
            .map(Some)
    }

    fn finish_message(&mut self, text: bool, payload: bytes::Bytes) -> Result<Message, Violation> {
        if !text {
            return Ok(Message::Binary(payload));
        }
        if std::mem::take(&mut self.streaming) {
            self.utf8.finish().map_err(|_| Violation::invalid_text())?;
        }
        Utf8Bytes::try_from(payload)
            .map(Message::Text)
            .map_err(|_| Violation::invalid_text())
    }
}

/// Feeds the next piece of a text message to its validator, starting it on the first frame.
fn stream_text(
    streaming: &mut bool,
    utf8: &mut Utf8Stream,
    head: &Head,
    piece: &[u8],
) -> Result<(), Violation> {
    if head.opcode == opcode::TEXT && !*streaming {
        *streaming = true;
        *utf8 = Utf8Stream::default();
    }
    utf8.feed(piece).map_err(|_| Violation::invalid_text())
}

/// A close frame's payload: nothing, or a code and a UTF-8 reason (RFC 6455 §5.5.1, §7.4).
fn close_message(payload: &[u8]) -> Result<Message, Violation> {
    match payload {
        [] => Ok(Message::Close(None)),
        [_] => Err(Violation::protocol("close frame with a one-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = CloseCode::from(u16::from_be_bytes([*hi, *lo]));
            if !code.is_allowed() {
                return Err(Violation::protocol("close frame with an invalid code"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Violation::invalid_text())?;
            Ok(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_frame: 1 << 16,
        max_message: 1 << 17,
        read_size: 4096,
    };

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend((n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend((n as u64).to_be_bytes());
            }
        }
        out.extend(mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    /// Feeds `wire` `step` bytes at a time; every message, then the error if one came.
    fn decode(wire: &[u8], step: usize) -> (Vec<Message>, Option<Violation>) {
        let mut decoder = Decoder::new(LIMITS, Vec::new());
        let mut messages = Vec::new();
        for piece in wire.chunks(step) {
            decoder.buf.extend_from_slice(piece);
            loop {
                match decoder.next_buffered() {
                    Ok(Some(message)) => messages.push(message),
                    Ok(None) => break,
                    Err(violation) => return (messages, Some(violation)),
                }
            }
        }
        (messages, None)
    }

    #[test]
    fn messages_decode_whatever_the_read_size() {
        let mut wire = frame(true, opcode::TEXT, "héllo".as_bytes());
        wire.extend(frame(false, opcode::BINARY, &[1, 2]));
        wire.extend(frame(true, opcode::PING, b"p"));
        wire.extend(frame(true, opcode::CONTINUATION, &[3]));
        wire.extend(frame(true, opcode::BINARY, &vec![7; 70_000][..60_000]));
        wire.extend(frame(true, opcode::CLOSE, &[0x03, 0xe8, b'o', b'k']));
        for step in [1, 2, 3, 7, 100, wire.len()] {
            let (messages, error) = decode(&wire, step);
            assert_eq!(error, None, "step {step}");
            assert_eq!(messages.len(), 5, "step {step}");
            assert_eq!(messages[0], Message::text("héllo"));
            assert_eq!(messages[1], Message::Ping(bytes::Bytes::from_static(b"p")));
            assert_eq!(messages[2], Message::binary(vec![1, 2, 3]));
            assert_eq!(messages[3].len(), 60_000);
            assert!(
                matches!(&messages[4], Message::Close(Some(f)) if u16::from(f.code) == 1000 && f.reason == "ok")
            );
        }
    }

    #[test]
    fn invalid_text_fails_before_its_frame_completes() {
        let mut payload = "é".repeat(1000).into_bytes();
        payload[10] = 0xff;
        let wire = frame(true, opcode::TEXT, &payload);
        let mut decoder = Decoder::new(LIMITS, Vec::new());
        decoder.buf.extend_from_slice(&wire[..40]);
        let error = decoder
            .next_buffered()
            .expect_err("invalid UTF-8 seen early");
        assert_eq!(error.code, 1007);
    }

    #[test]
    fn invalid_text_in_a_later_fragment_fails_at_that_fragment() {
        let mut wire = frame(false, opcode::TEXT, "ab".as_bytes());
        wire.extend(frame(false, opcode::CONTINUATION, &[0xce]));
        wire.extend(frame(false, opcode::CONTINUATION, &[0xba, 0xff]));
        wire.extend(frame(true, opcode::CONTINUATION, b"never reached"));
        for step in [1, wire.len()] {
            let (messages, error) = decode(&wire, step);
            assert!(messages.is_empty());
            assert_eq!(error.map(|e| e.code), Some(1007));
        }
    }

    #[test]
    fn a_character_split_across_fragments_is_valid() {
        let mut wire = frame(false, opcode::TEXT, &[0xce]);
        wire.extend(frame(true, opcode::CONTINUATION, &[0xba]));
        let (messages, error) = decode(&wire, 1);
        assert_eq!(error, None);
        assert_eq!(messages, vec![Message::text("κ")]);
    }

    #[test]
    fn protocol_violations_get_their_close_codes() {
        let unmasked = vec![0x81, 0x01, b'a'];
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (vec![0xc1, 0x80, 0, 0, 0, 0], 1002),
            (vec![0x83, 0x80, 0, 0, 0, 0], 1002),
            (unmasked, 1002),
            (frame(false, opcode::PING, b""), 1002),
            (frame(true, opcode::PING, &[0; 126]), 1002),
            (frame(true, opcode::CONTINUATION, b"x"), 1002),
            (frame(true, opcode::CLOSE, &[0x03]), 1002),
            (frame(true, opcode::CLOSE, &[0x03, 0xed]), 1002),
            (frame(true, opcode::CLOSE, &[0x03, 0xe8, 0xff]), 1007),
            (frame(true, opcode::BINARY, &vec![0; (1 << 16) + 1]), 1009),
            (frame(true, opcode::TEXT, &[0xc0, 0x80]), 1007),
        ];
        for (wire, code) in cases {
            let (_, error) = decode(&wire, wire.len());
            assert_eq!(error.map(|e| e.code), Some(code), "{wire:02x?}");
        }
        let mut interleaved = frame(false, opcode::TEXT, b"a");
        interleaved.extend(frame(true, opcode::TEXT, b"b"));
        assert_eq!(decode(&interleaved, 1).1.map(|e| e.code), Some(1002));
    }

    #[test]
    fn the_message_limit_counts_every_fragment() {
        let mut wire = frame(false, opcode::BINARY, &vec![0; 1 << 16]);
        wire.extend(frame(false, opcode::CONTINUATION, &vec![0; 1 << 16]));
        wire.extend(frame(true, opcode::CONTINUATION, &[0]));
        assert_eq!(decode(&wire, 4096).1.map(|e| e.code), Some(1009));
    }

    #[test]
    fn an_idle_decoder_releases_its_buffer() {
        let mut decoder = Decoder::new(LIMITS, frame(true, opcode::TEXT, b"hi"));
        assert!(!decoder.is_idle());
        assert_eq!(decoder.next_buffered(), Ok(Some(Message::text("hi"))));
        decoder.release();
        assert_eq!(decoder.buf.capacity(), 0);
    }
}
