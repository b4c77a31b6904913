//! The client's side of RFC 6455 framing, for the echo load: masked frames built
//! once and replayed, and server frame headers read in place from the socket
//! buffer.
//!
//! The load generator shares a machine with the server it measures, so every
//! cycle it spends per message is a cycle the server cannot have. Building each
//! frame once (mask included) and checking echoes byte by byte straight out of
//! the read buffer keeps its cost per message to a header parse, one compare
//! and one copy into the write buffer.

use std::hash::{BuildHasher, RandomState};

/// Opcodes this client sends or must understand.
pub(super) const OP_CONTINUATION: u8 = 0x0;
pub(super) const OP_TEXT: u8 = 0x1;
pub(super) const OP_BINARY: u8 = 0x2;
pub(super) const OP_CLOSE: u8 = 0x8;
pub(super) const OP_PING: u8 = 0x9;
pub(super) const OP_PONG: u8 = 0xA;
/// The first header byte's RSV1 bit: a compressed message (RFC 7692).
pub(super) const RSV1: u8 = 0x40;

/// A frame the server broke the protocol with; the connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameError {
    /// RSV bits without an extension, or an opcode RFC 6455 reserves.
    Reserved,
    /// Servers must not mask (RFC 6455 §5.1).
    Masked,
    /// A control frame that is fragmented or longer than 125 bytes.
    BadControl,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) fin: bool,
    /// RSV1: the first frame of a compressed message (only with `--deflate`).
    pub(super) compressed: bool,
    pub(super) opcode: u8,
    /// Bytes the header itself took.
    pub(super) header_len: usize,
    pub(super) payload_len: u64,
}

impl Head {
    /// Parses the header at the start of `bytes`; `Ok(None)` until all of it has arrived.
    #[cfg(test)]
    pub(super) fn parse(bytes: &[u8]) -> Result<Option<Self>, FrameError> {
        Self::parse_with(bytes, false)
    }

    /// [`parse`](Self::parse), with RSV1 allowed on the first frame of a data message when
    /// permessage-deflate was negotiated.
    pub(super) fn parse_with(bytes: &[u8], deflate: bool) -> Result<Option<Self>, FrameError> {
        let [first, second, ..] = *bytes else {
            return Ok(None);
        };
        let opcode = first & 0x0F;
        let compressed = first & RSV1 != 0;
        let rsv_allowed = if deflate && matches!(opcode, OP_TEXT | OP_BINARY) {
            0x30
        } else {
            0x70
        };
        if first & rsv_allowed != 0 || !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
            return Err(FrameError::Reserved);
        }
        if second & 0x80 != 0 {
            return Err(FrameError::Masked);
        }
        let fin = first & 0x80 != 0;
        let (header_len, payload_len) = match second & 0x7F {
            126 => match bytes.get(2..4) {
                Some(&[a, b]) => (4, u64::from(u16::from_be_bytes([a, b]))),
                _ => return Ok(None),
            },
            127 => match bytes
                .get(2..10)
                .and_then(|ext| <[u8; 8]>::try_from(ext).ok())
            {
                Some(ext) => (10, u64::from_be_bytes(ext)),
                None => return Ok(None),
            },
            short => (2, u64::from(short)),
        };
        if opcode >= OP_CLOSE && (!fin || payload_len > 125) {
            return Err(FrameError::BadControl);
        }
        Ok(Some(Self {
            fin,
            compressed,
            opcode,
            header_len,
            payload_len,
        }))
    }
}

/// A complete masked client frame, ready to be copied to the socket as is.
///
/// The mask is drawn once per frame built, not per send: replaying a frame
/// reuses its key, which the server cannot tell from fresh ones and which is
/// what lets a send be a plain copy.
pub(super) fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    masked_flagged_frame(0, opcode, payload)
}

/// [`masked_frame`] with `flags` (such as [`RSV1`]) in the first byte.
pub(super) fn masked_flagged_frame(flags: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = random_mask();
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | flags | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
    frame
}

/// The close frame a client sends to end the session normally (1000).
pub(super) fn close_frame() -> Vec<u8> {
    masked_frame(OP_CLOSE, &1000u16.to_be_bytes())
}

/// Four unpredictable bytes from the standard library's per-process hash keys,
/// so the generator needs no random-number crate of its own.
fn random_mask() -> [u8; 4] {
    let bits = RandomState::new().hash_one(0u8);
    let [a, b, c, d, ..] = bits.to_le_bytes();
    [a, b, c, d]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmask(frame: &[u8]) -> (Head, Vec<u8>) {
        // Client frames carry the mask bit, which `Head::parse` refuses from a
        // server: clear it to reuse the parser, then undo the mask by hand.
        let mut unmasked = frame.to_vec();
        unmasked[1] &= 0x7F;
        let head = Head::parse(&unmasked).unwrap().unwrap();
        let key: [u8; 4] = frame[head.header_len..head.header_len + 4]
            .try_into()
            .unwrap();
        let payload = frame[head.header_len + 4..]
            .iter()
            .zip(key.iter().cycle())
            .map(|(byte, key)| byte ^ key)
            .collect();
        (head, payload)
    }

    #[test]
    fn masked_frames_round_trip_at_every_length_class() {
        for len in [0, 1, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frame = masked_frame(OP_BINARY, &payload);
            let (head, unmasked) = unmask(&frame);
            assert!(head.fin);
            assert_eq!(head.opcode, OP_BINARY);
            assert_eq!(head.payload_len, len as u64);
            assert_eq!(unmasked, payload, "length {len}");
        }
    }

    #[test]
    fn headers_wait_for_every_length_byte() {
        assert_eq!(Head::parse(&[0x81]), Ok(None));
        assert_eq!(Head::parse(&[0x82, 126, 0x01]), Ok(None));
        assert_eq!(Head::parse(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0]), Ok(None));
        let head = Head::parse(&[0x82, 126, 0x01, 0x00]).unwrap().unwrap();
        assert_eq!((head.header_len, head.payload_len), (4, 256));
        let head = Head::parse(&[0x01, 5, b'x']).unwrap().unwrap();
        assert!(!head.fin);
        assert_eq!((head.opcode, head.header_len), (OP_TEXT, 2));
    }

    #[test]
    fn protocol_violations_are_refused() {
        assert_eq!(Head::parse(&[0xC1, 0]), Err(FrameError::Reserved));
        assert_eq!(Head::parse(&[0x83, 0]), Err(FrameError::Reserved));
        assert_eq!(Head::parse(&[0x81, 0x80]), Err(FrameError::Masked));
        assert_eq!(Head::parse(&[0x09, 0]), Err(FrameError::BadControl));
        assert_eq!(
            Head::parse(&[0x89, 126, 0, 126]),
            Err(FrameError::BadControl)
        );
    }

    #[test]
    fn close_frame_says_normal_closure() {
        let (head, payload) = unmask(&close_frame());
        assert_eq!(head.opcode, OP_CLOSE);
        assert_eq!(payload, 1000u16.to_be_bytes());
    }
}
