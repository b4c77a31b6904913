//! The client's frame rewriting once permessage-deflate is agreed: what tungstenite writes is
//! compressed before the wire, what the server sends is inflated before tungstenite reads it.

use std::io;

use bytes::{BufMut, BytesMut};

use super::{CLIENT_LEVEL, MAX_INFLATED};
use crate::ws::codec::head::{Head, RSV1, RSV1_BIT, unmask};
use crate::ws::codec::{Deflater, InflateError, Inflater, Params, opcode};

/// One connection's compressing and inflating state, client side.
#[derive(Debug)]
pub(super) struct Rewriter {
    /// `None` when the agreed window (8 bits) is one zlib cannot compress with: messages go out
    /// uncompressed, which RFC 7692 always allows.
    deflater: Option<Deflater>,
    inflater: Inflater,
    /// Inside an incoming compressed message whose first frame has been inflated.
    inflating: bool,
    /// An outgoing data message sent in fragments: its opcode and payload so far, unmasked. It
    /// goes out as one compressed frame once the last fragment is written.
    fragments: Option<(u8, Vec<u8>)>,
    inflated: Vec<u8>,
}

impl Rewriter {
    pub(super) fn new(agreed: Params) -> Self {
        let mine = agreed.seen_by_client();
        Self {
            deflater: Deflater::new(mine, CLIENT_LEVEL, 0),
            inflater: Inflater::new(mine),
            inflating: false,
            fragments: None,
            inflated: Vec::new(),
        }
    }

    /// Moves every whole server frame at the start of `wire` onto `plain`, compressed messages
    /// inflated and their RSV1 cleared.
    pub(super) fn incoming(&mut self, wire: &mut BytesMut, plain: &mut BytesMut) -> io::Result<()> {
        while let Some(head) = Head::parse(wire) {
            let total = frame_len(&head)?;
            if wire.len() < total {
                break;
            }
            let frame = wire.split_to(total);
            let starts_compressed =
                head.rsv & RSV1_BIT != 0 && matches!(head.opcode, opcode::TEXT | opcode::BINARY);
            let continues_compressed =
                head.rsv == 0 && head.opcode == opcode::CONTINUATION && self.inflating;
            if !starts_compressed && !continues_compressed {
                // Control frames and uncompressed messages go through as sent; a misplaced RSV1
                // reaches tungstenite, which fails the connection as RFC 7692 §6.1 asks.
                plain.extend_from_slice(&frame);
                continue;
            }
            self.inflating = !head.fin;
            self.inflated.clear();
            self.inflater
                .inflate(
                    &frame[head.size..],
                    head.fin,
                    &mut self.inflated,
                    MAX_INFLATED,
                )
                .map_err(|error| {
                    let why = match error {
                        InflateError::TooBig => "a compressed frame inflates past 64 MiB",
                        InflateError::Invalid => "a compressed frame is not valid deflate",
                    };
                    io::Error::new(io::ErrorKind::InvalidData, why)
                })?;
            let fin = if head.fin { 0x80 } else { 0 };
            put_head(fin | head.opcode, None, self.inflated.len(), plain);
            plain.extend_from_slice(&self.inflated);
        }
        Ok(())
    }

    /// Moves every whole client frame at the start of `plain` onto `wire`, data messages
    /// compressed with RSV1 set and masked again with their own key.
    pub(super) fn outgoing(&mut self, plain: &mut BytesMut, wire: &mut BytesMut) -> io::Result<()> {
        while let Some(head) = Head::parse(plain) {
            let total = frame_len(&head)?;
            if plain.len() < total {
                break;
            }
            let mut frame = plain.split_to(total);
            let data = matches!(head.opcode, opcode::TEXT | opcode::BINARY)
                || (head.opcode == opcode::CONTINUATION && self.fragments.is_some());
            let Some(deflater) = self.deflater.as_mut().filter(|_| data) else {
                wire.extend_from_slice(&frame);
                continue;
            };
            let payload = &mut frame[head.size..];
            if let Some(mask) = head.mask {
                unmask(payload, mask, 0);
            }
            let (message_opcode, compressed) = match self.fragments.take() {
                None if head.fin => (head.opcode, deflater.compress(payload)),
                None => {
                    self.fragments = Some((head.opcode, payload.to_vec()));
                    continue;
                }
                Some((first_opcode, mut so_far)) => {
                    so_far.extend_from_slice(payload);
                    if !head.fin {
                        self.fragments = Some((first_opcode, so_far));
                        continue;
                    }
                    (first_opcode, deflater.compress(&so_far))
                }
            };
            let mut compressed = Vec::from(compressed);
            if let Some(mask) = head.mask {
                unmask(&mut compressed, mask, 0);
            }
            put_head(
                0x80 | RSV1 | message_opcode,
                head.mask,
                compressed.len(),
                wire,
            );
            wire.extend_from_slice(&compressed);
        }
        Ok(())
    }
}

/// Header and payload of the frame `head` starts; a length no message may have is an error
/// rather than a wait for bytes that would fill memory.
fn frame_len(head: &Head) -> io::Result<usize> {
    usize::try_from(head.len)
        .ok()
        .filter(|len| *len <= MAX_INFLATED)
        .map(|len| head.size + len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a frame longer than 64 MiB"))
}

/// A frame header (RFC 6455 §5.2): `first` is the first byte (FIN, RSV, opcode).
fn put_head(first: u8, mask: Option<[u8; 4]>, len: usize, out: &mut BytesMut) {
    out.put_u8(first);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        // `len < 126` fits the 7-bit length field.
        out.put_u8(mask_bit | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.put_u8(mask_bit | 126);
        out.put_u16(short);
    } else {
        out.put_u8(mask_bit | 127);
        out.put_u64(len as u64);
    }
    if let Some(mask) = mask {
        out.put_slice(&mask);
    }
}
