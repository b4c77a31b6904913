//! `--deflate`: permessage-deflate (RFC 7692) on the load generator's own frames. Both
//! directions without context takeover, so each message is compressed once, replayed as is, and
//! each echo inflates on its own.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The offer sent with `--deflate`: what browsers negotiate with a server that asks for no
/// context takeover either way.
pub(super) const OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The tail a sync flush ends with, which permessage-deflate leaves off the wire.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// `payload` as a compressed message's payload (raw deflate, sync flush, tail removed).
pub(super) fn compress(payload: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(payload.len() + 64);
    loop {
        let consumed = compressor.total_in() as usize;
        let status = compressor.compress_vec(&payload[consumed..], &mut out, FlushCompress::Sync);
        if status.is_err() {
            break;
        }
        if compressor.total_in() as usize >= payload.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    out
}

/// Inflates the server's compressed messages, one at a time.
pub(super) struct Inflater {
    decompressor: Decompress,
    out: Vec<u8>,
}

impl Inflater {
    pub(super) fn new() -> Self {
        Self {
            decompressor: Decompress::new(false),
            out: Vec::new(),
        }
    }

    /// The message `compressed` carries; `None` when it is not valid deflate.
    pub(super) fn inflate(&mut self, compressed: &[u8]) -> Option<&[u8]> {
        self.decompressor.reset(false);
        self.out.clear();
        for input in [compressed, &SYNC_TAIL[..]] {
            let start = self.decompressor.total_in();
            loop {
                if self.out.len() == self.out.capacity() {
                    self.out.reserve(self.out.capacity().max(4096));
                }
                let consumed = (self.decompressor.total_in() - start) as usize;
                let status = self
                    .decompressor
                    .decompress_vec(&input[consumed..], &mut self.out, FlushDecompress::Sync)
                    .ok()?;
                let consumed = (self.decompressor.total_in() - start) as usize;
                if status == Status::StreamEnd
                    || (consumed >= input.len() && self.out.len() < self.out.capacity())
                {
                    break;
                }
            }
        }
        Some(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips() {
        let message = b"{\"text\":\"hello hello hello hello hello\"}".repeat(20);
        let compressed = compress(&message);
        assert!(compressed.len() < message.len() / 4);
        let mut inflater = Inflater::new();
        assert_eq!(inflater.inflate(&compressed), Some(&message[..]));
        assert_eq!(inflater.inflate(&compressed), Some(&message[..]));
    }
}
