//! permessage-deflate (RFC 7692 §7): compressing a message's payload, and inflating one within
//! the message size limit.
//!
//! Compressors and decompressors are pooled per worker thread. Without context takeover (the
//! default) a message borrows one, uses it, resets it and gives it back, so an idle connection
//! holds none. A reset keeps the allocations of a deflate state (~256 KiB at 15 window bits);
//! making one per message would cost far more than compressing a chat message.

use std::cell::RefCell;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::head::{self, RSV1};

/// The tail every compressed message's deflate stream ends with, removed on the wire
/// (RFC 7692 §7.2.1) and put back before inflating (§7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Most idle compressors (or decompressors) a worker keeps per kind.
const POOL_SIZE: usize = 8;

/// What a connection agreed on in its handshake (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    /// The server compresses each message on its own.
    pub(crate) server_no_context_takeover: bool,
    /// The client compresses each message on its own.
    pub(crate) client_no_context_takeover: bool,
    /// The window the server compresses with (8 to 15; at 8 it sends uncompressed, which
    /// zlib cannot produce for raw deflate).
    pub(crate) server_max_window_bits: u8,
    /// The largest window the client compresses with.
    pub(crate) client_max_window_bits: u8,
}

/// How a server compresses what it sends on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) level: u8,
    pub(crate) window_bits: u8,
    /// Messages shorter than this go out uncompressed.
    pub(crate) threshold: u32,
}

impl Params {
    /// The same agreement seen from the client: what the server sends the client receives, so
    /// a client compresses with the `client_*` parameters and inflates with the `server_*` ones.
    pub(crate) fn seen_by_client(self) -> Self {
        Self {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits,
            client_max_window_bits: self.server_max_window_bits,
        }
    }
}

impl Outgoing {
    /// Whether a payload of `len` bytes is compressed.
    pub(crate) fn applies_to(&self, len: usize) -> bool {
        len >= self.threshold as usize
    }
}

/// Compressors and decompressors of one worker thread, idle.
#[derive(Default)]
struct Pool {
    /// By (level, window bits).
    compressors: Vec<((u8, u8), Vec<Compress>)>,
    /// By window bits.
    decompressors: Vec<(u8, Vec<Decompress>)>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

fn borrow_compressor(level: u8, bits: u8) -> Compress {
    let pooled = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.compressors
            .iter_mut()
            .find(|(key, _)| *key == (level, bits))
            .and_then(|(_, idle)| idle.pop())
    });
    pooled.unwrap_or_else(|| {
        Compress::new_with_window_bits(Compression::new(level.into()), false, bits)
    })
}

fn give_back_compressor(level: u8, bits: u8, mut compressor: Compress) {
    compressor.reset();
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let at = match pool
            .compressors
            .iter()
            .position(|(key, _)| *key == (level, bits))
        {
            Some(at) => at,
            None => {
                pool.compressors.push(((level, bits), Vec::new()));
                pool.compressors.len() - 1
            }
        };
        let idle = &mut pool.compressors[at].1;
        if idle.len() < POOL_SIZE {
            idle.push(compressor);
        }
    });
}

fn borrow_decompressor(bits: u8) -> Decompress {
    let pooled = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.decompressors
            .iter_mut()
            .find(|(key, _)| *key == bits)
            .and_then(|(_, idle)| idle.pop())
    });
    pooled.unwrap_or_else(|| Decompress::new_with_window_bits(false, bits))
}

fn give_back_decompressor(bits: u8, mut decompressor: Decompress) {
    decompressor.reset(false);
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let at = match pool.decompressors.iter().position(|(key, _)| *key == bits) {
            Some(at) => at,
            None => {
                pool.decompressors.push((bits, Vec::new()));
                pool.decompressors.len() - 1
            }
        };
        let idle = &mut pool.decompressors[at].1;
        if idle.len() < POOL_SIZE {
            idle.push(decompressor);
        }
    });
}

/// Deflates `input` with a sync flush and without the sync tail, appending to `out`.
fn deflate_into(compressor: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.reserve(input.len() / 2 + 64);
    let mut consumed = 0;
    loop {
        let before = compressor.total_in();
        let outcome = compressor.compress_vec(&input[consumed..], out, FlushCompress::Sync);
        consumed += (compressor.total_in() - before) as usize;
        // A sync flush is complete once a call leaves output room unused with all input taken.
        if outcome.is_err() || (consumed >= input.len() && out.len() < out.capacity()) {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    if out[start..].ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
}

/// A whole final frame of `opcode` whose payload is `payload` compressed with RSV1 set: a room
/// push compresses once for every member whose connection agreed on `outgoing`.
pub(crate) fn compressed_frame(opcode: u8, payload: &[u8], outgoing: Outgoing) -> Bytes {
    let mut compressor = borrow_compressor(outgoing.level, outgoing.window_bits);
    let mut compressed = Vec::new();
    deflate_into(&mut compressor, payload, &mut compressed);
    give_back_compressor(outgoing.level, outgoing.window_bits, compressor);
    let mut frame = BytesMut::with_capacity(head::MAX_SIZE + compressed.len());
    head::encode_flagged(RSV1, opcode, compressed.len(), &mut frame);
    frame.put_slice(&compressed);
    frame.freeze()
}

/// The compressing side of one connection.
#[derive(Debug)]
pub(crate) struct Deflater {
    pub(crate) outgoing: Outgoing,
    takeover: bool,
    /// The connection's own compressor, kept between messages with server context takeover;
    /// boxed so a connection without one pays a word.
    kept: Option<Box<Compress>>,
}

impl Deflater {
    /// `None` when nothing is ever compressed (a window of 8 bits, which zlib cannot make).
    pub(crate) fn new(params: Params, level: u8, threshold: u32) -> Option<Self> {
        (params.server_max_window_bits >= 9).then(|| Self {
            outgoing: Outgoing {
                level,
                window_bits: params.server_max_window_bits,
                threshold,
            },
            takeover: !params.server_no_context_takeover,
            kept: None,
        })
    }

    /// `payload` compressed, without the sync tail.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Bytes {
        let Outgoing {
            level, window_bits, ..
        } = self.outgoing;
        let mut out = Vec::new();
        match self.takeover {
            true => {
                let compressor = self.kept.get_or_insert_with(|| {
                    Box::new(Compress::new_with_window_bits(
                        Compression::new(level.into()),
                        false,
                        window_bits,
                    ))
                });
                deflate_into(compressor, payload, &mut out);
            }
            false => {
                let mut compressor = borrow_compressor(level, window_bits);
                deflate_into(&mut compressor, payload, &mut out);
                give_back_compressor(level, window_bits, compressor);
            }
        }
        Bytes::from(out)
    }
}

/// Why inflating a message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The message inflates past the limit.
    TooBig,
    /// The data is not valid deflate.
    Invalid,
}

/// The inflating side of one connection.
#[derive(Debug)]
pub(crate) struct Inflater {
    window_bits: u8,
    takeover: bool,
    /// The decompressor of the message in progress, or kept between messages with client
    /// context takeover.
    held: Option<Box<Decompress>>,
}

impl Inflater {
    pub(crate) fn new(params: Params) -> Self {
        Self {
            // Inflating with a larger window than the client's is always correct; zlib has no
            // raw 8-bit window.
            window_bits: params.client_max_window_bits.max(9),
            takeover: !params.client_no_context_takeover,
            held: None,
        }
    }

    /// Inflates one frame's `input` of a compressed message onto `out`, which may not grow past
    /// `limit` bytes; `last` for the message's final frame.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let bits = self.window_bits;
        let decompressor = self
            .held
            .get_or_insert_with(|| Box::new(borrow_decompressor(bits)));
        let mut outcome = inflate_into(decompressor, input, out, limit);
        if outcome.is_ok() && last {
            outcome = inflate_into(decompressor, &SYNC_TAIL, out, limit);
        }
        if outcome.is_err() {
            // The connection ends: the state is dropped rather than pooled half-used.
            self.held = None;
        } else if last
            && !self.takeover
            && let Some(decompressor) = self.held.take()
        {
            give_back_decompressor(bits, *decompressor);
        }
        outcome
    }

    /// Whether a decompressor is held (a fragmented message in progress, or context takeover).
    #[cfg(test)]
    pub(crate) fn holds_state(&self) -> bool {
        self.held.is_some()
    }
}

/// Inflates `input` onto `out` without letting it grow past `limit` bytes.
fn inflate_into(
    decompressor: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), InflateError> {
    let mut consumed = 0;
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            // Doubling, but never past one byte over the limit: that byte tells an
            // over-long message from one that ends at the limit.
            let room = (out.len().max(input.len() * 2).max(256)).min(limit + 1 - out.len());
            out.reserve_exact(room.max(1));
        }
        let before = decompressor.total_in();
        let status = decompressor
            .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
            .map_err(|_| InflateError::Invalid)?;
        consumed += (decompressor.total_in() - before) as usize;
        if out.len() > limit {
            return Err(InflateError::TooBig);
        }
        match status {
            Status::StreamEnd => return Ok(()),
            _ if consumed >= input.len() && out.len() < out.capacity() => return Ok(()),
            Status::BufError if out.len() < out.capacity() => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: Params = Params {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    /// The payload inflated again, and its compressed size.
    fn round_trip(
        deflater: &mut Deflater,
        inflater: &mut Inflater,
        payload: &[u8],
    ) -> (Vec<u8>, usize) {
        let compressed = deflater.compress(payload);
        let mut out = Vec::new();
        inflater
            .inflate(&compressed, true, &mut out, 1 << 20)
            .expect("valid deflate");
        (out, compressed.len())
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        let chat = br#"{"type":"chat","room":"lobby","from":"alice","text":"hello everyone"}"#;
        for takeover in [false, true] {
            let params = Params {
                server_no_context_takeover: !takeover,
                client_no_context_takeover: !takeover,
                ..PARAMS
            };
            let mut deflater = Deflater::new(params, 6, 0).expect("15 bits");
            let mut inflater = Inflater::new(params);
            let mut sizes = Vec::new();
            for _ in 0..3 {
                let (inflated, size) = round_trip(&mut deflater, &mut inflater, chat);
                assert_eq!(inflated, chat);
                sizes.push(size);
            }
            // With takeover the repeats compress to back-references into the window.
            assert_eq!(
                sizes[2] < sizes[0] / 2,
                takeover,
                "takeover {takeover}: {sizes:?}"
            );
            assert_eq!(inflater.holds_state(), takeover);
        }
        let mut deflater = Deflater::new(PARAMS, 1, 0).expect("15 bits");
        let mut inflater = Inflater::new(PARAMS);
        assert_eq!(round_trip(&mut deflater, &mut inflater, b"").0, b"");
    }

    #[test]
    fn a_small_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let mut deflater = Deflater::new(PARAMS, 9, 0).expect("15 bits");
        let bomb = deflater.compress(&zeros);
        assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
        let mut inflater = Inflater::new(PARAMS);
        let mut out = Vec::new();
        let limit = 64 * 1024;
        assert_eq!(
            inflater.inflate(&bomb, true, &mut out, limit),
            Err(InflateError::TooBig)
        );
        assert!(out.capacity() <= limit + 1, "{}", out.capacity());
        assert!(!inflater.holds_state());
    }

    #[test]
    fn invalid_data_is_an_error_not_a_panic() {
        let mut inflater = Inflater::new(PARAMS);
        let mut out = Vec::new();
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff, 0x00], true, &mut out, 1024),
            Err(InflateError::Invalid)
        );
    }

    #[test]
    fn a_shared_frame_carries_rsv1() {
        let outgoing = Outgoing {
            level: 1,
            window_bits: 15,
            threshold: 0,
        };
        let frame = compressed_frame(super::super::head::opcode::TEXT, &[b'a'; 300], outgoing);
        assert_eq!(frame[0], 0x80 | RSV1 | 0x1);
        assert!(frame.len() < 40);
    }
}
