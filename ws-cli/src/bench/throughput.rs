//! Pipelined echo load: every connection keeps `--inflight` messages outstanding
//! and replaces each verified echo with a new message.
//!
//! Each connection is one task driving a bare socket from a single poll
//! function: one read takes every echo that has arrived, each echo is checked
//! byte for byte where it lies in the read buffer, one prebuilt masked frame per
//! echo is copied into the write buffer, and one write sends them all. So a
//! window of messages costs one read and one write syscall, and the generator
//! spends as little of the machine per message as it can: on a shared machine,
//! whatever it spends is taken from the server it measures.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::deflate::{self, Inflater};
use super::frames::{self, FrameError, Head};
use super::progress::{Counters, Progress, Unit};
use super::report::{
    LatencySummary, Report, ThroughputReport, latency_histogram, mb_per_sec, per_message, per_sec,
};
use super::upgrade::{self, Upgraded};
use super::{BenchArgs, CLOSE_GRACE, CONNECT_TIMEOUT, Schedule};

/// Largest client frame header (2 + 8 length + 4 mask), for sizing buffers.
const MAX_FRAME_OVERHEAD: usize = 14;
/// Read buffer bounds: a window's worth of echoes per read where it fits, and at
/// least room for any control frame (2 + 125 bytes) behind a partial header.
const MIN_READ: usize = 4 << 10;
const MAX_READ: usize = 256 << 10;
/// Distinct payloads sent in rotation, so an echo that comes back out of order
/// or from another message fails verification. 61 keeps every variant distinct:
/// both patterns below repeat with a longer period.
const VARIANTS: usize = 61;
const TEXT_PATTERN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Binary payloads cycle through 251 byte values (a prime, so the pattern does
/// not line up with power-of-two sizes) including bytes that are not UTF-8.
const BINARY_PERIOD: usize = 251;

pub(super) async fn run(
    args: &BenchArgs,
    request: Request,
    progress: &Progress,
) -> anyhow::Result<Report> {
    let size = args.size as usize;
    let inflight = args.inflight as usize;
    let read_buffer = (inflight * (size + MAX_FRAME_OVERHEAD)).clamp(MIN_READ, MAX_READ);
    let opened = super::open_with(&request, args.conns, progress, |request| {
        upgrade::upgrade(request, CONNECT_TIMEOUT)
    })
    .await;
    opened.require_any()?;
    opened.warn_failures(args.conns, progress);
    let established = opened.streams.len() as u64;

    let prefix = args.expect_prefix.as_deref().unwrap_or_default().as_bytes();
    let chat = args.payload == super::PayloadKind::Chat;
    let payloads = Arc::new(Payloads::new(size, args.binary, chat, prefix, args.deflate));
    let schedule = Schedule::starting_now(args.warmup, args.secs);
    let counters = Arc::new(Counters::default());
    let ticker = progress.track(Arc::clone(&counters), schedule, Unit::Rate("msg"));

    let mut tasks = JoinSet::new();
    for upgraded in opened.streams {
        let mut conn = Connection::new(
            upgraded,
            read_buffer,
            Arc::clone(&payloads),
            inflight,
            schedule,
            Arc::clone(&counters),
        );
        conn.greetings = args.skip_first;
        if args.deflate {
            conn.inflater = Some(Inflater::default());
        }
        tasks.spawn(conn.run());
    }
    let mut total = ConnStats::new();
    let mut dropped = 0;
    while let Some(joined) = tasks.join_next().await {
        let Ok(stats) = joined else {
            dropped += 1;
            continue;
        };
        total.messages += stats.messages;
        total.bytes += stats.bytes;
        total.wire_bytes += stats.wire_bytes;
        total.mismatches += stats.mismatches;
        dropped += u64::from(stats.dropped);
        // Same bounds on both sides, so adding cannot fail.
        let _ = total.hist.add(&stats.hist);
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    Ok(Report::Throughput(ThroughputReport {
        url: args.url.clone(),
        conns: args.conns,
        conns_established: established,
        inflight: args.inflight,
        size: args.size,
        binary: args.binary,
        threads: args.threads,
        warmup_secs: args.warmup,
        secs: args.secs,
        messages: total.messages,
        msgs_per_sec: per_sec(total.messages, args.secs),
        bytes: total.bytes,
        mb_per_sec: mb_per_sec(total.bytes, args.secs),
        wire_bytes_per_echo: per_message(total.wire_bytes, total.messages),
        wire_bytes_per_send: per_message(
            payloads.frames.iter().map(|frame| frame.len() as u64).sum(),
            payloads.frames.len() as u64,
        ),
        latency_us: LatencySummary::from_ns(&total.hist),
        errors: total.mismatches + opened.failures + dropped,
        mismatches: total.mismatches,
        connect_errors: opened.failures,
        dropped_connections: dropped,
    }))
}

/// The rotation of messages: each as the masked frame we send and as the echo
/// we expect back, both built once.
struct Payloads {
    /// Opcode every echo must carry.
    opcode: u8,
    frames: Vec<Vec<u8>>,
    /// What the server must send back for each: its prefix, then the payload.
    echoes: Vec<Vec<u8>>,
}

impl Payloads {
    fn new(size: usize, binary: bool, chat: bool, prefix: &[u8], compressed: bool) -> Self {
        let len = size + VARIANTS - 1;
        let base: Vec<u8> = if binary {
            (0..len).map(|i| (i % BINARY_PERIOD) as u8).collect()
        } else {
            TEXT_PATTERN.iter().copied().cycle().take(len).collect()
        };
        let opcode = if binary {
            frames::OP_BINARY
        } else {
            frames::OP_TEXT
        };
        let chats: Vec<Vec<u8>> = match chat {
            true => (0..VARIANTS)
                .map(|v| super::chat_json::chat_json(size, v))
                .collect(),
            false => Vec::new(),
        };
        let payloads = (0..VARIANTS).map(|variant| match chat {
            true => &chats[variant][..],
            false => &base[variant..variant + size],
        });
        Self {
            opcode,
            frames: payloads
                .clone()
                .map(|payload| match compressed {
                    true => frames::masked_flagged_frame(
                        frames::RSV1,
                        opcode,
                        &deflate::compress(payload),
                    ),
                    false => frames::masked_frame(opcode, payload),
                })
                .collect(),
            echoes: payloads.map(|payload| [prefix, payload].concat()).collect(),
        }
    }
}

/// Compares the next `received` bytes of the message in progress with what it should be.
fn check_bytes(receiving: &mut Receiving, payloads: &Payloads, received: &[u8]) {
    if let Receiving::Echo {
        variant,
        matched,
        intact,
    } = receiving
    {
        let expected = &payloads.echoes[*variant];
        *intact = *intact && expected.get(*matched..*matched + received.len()) == Some(received);
        *matched += received.len();
    }
}

/// What one connection contributes to the report.
struct ConnStats {
    messages: u64,
    bytes: u64,
    /// Frames of the counted echoes as they came over the socket (headers included,
    /// compressed when compressed).
    wire_bytes: u64,
    mismatches: u64,
    dropped: bool,
    hist: Histogram<u64>,
}

impl ConnStats {
    fn new() -> Self {
        Self {
            messages: 0,
            bytes: 0,
            wire_bytes: 0,
            mismatches: 0,
            dropped: false,
            hist: latency_histogram(),
        }
    }
}

/// Where the parser is in the server's byte stream.
#[derive(Debug, Clone, Copy)]
enum Incoming {
    /// At a frame boundary, waiting for a header.
    Head,
    /// Inside a data frame: `remaining` payload bytes still to come.
    Payload { remaining: u64, fin: bool },
}

/// The data message being received.
#[derive(Debug, Clone, Copy)]
enum Receiving {
    None,
    /// A message the server sends on its own before the echoes (`--skip-first`).
    Greeting,
    /// An echo, compared with the variant we expect as its bytes arrive.
    Echo {
        variant: usize,
        matched: usize,
        intact: bool,
    },
}

struct Connection {
    stream: TcpStream,
    payloads: Arc<Payloads>,
    schedule: Schedule,
    counters: Arc<Counters>,
    /// Bytes from the server; `read[start..end]` is not parsed yet.
    read: Vec<u8>,
    start: usize,
    end: usize,
    incoming: Incoming,
    receiving: Receiving,
    /// Frames for the server; `write[written..]` is not sent yet.
    write: Vec<u8>,
    written: usize,
    /// Send instants of the messages in flight, oldest first: echoes come back
    /// in order, so the front is always the message the next echo answers.
    sent_at: VecDeque<Instant>,
    /// Replacements owed to the window but not yet queued.
    owed: usize,
    next_send: usize,
    next_expected: usize,
    /// Non-reply messages the server still owes at the start (`--skip-first`).
    greetings: u32,
    /// Echoes not yet added to the shared progress counter.
    unreported: u64,
    stats: ConnStats,
    /// With `--deflate`: inflates compressed echoes.
    inflater: Option<Inflater>,
    /// The compressed message being received, until its last frame.
    compressed: Option<Vec<u8>>,
    /// Bytes on the wire of the data message being received, so far.
    message_wire: u64,
}

impl Connection {
    fn new(
        upgraded: Upgraded,
        read_buffer: usize,
        payloads: Arc<Payloads>,
        inflight: usize,
        schedule: Schedule,
        counters: Arc<Counters>,
    ) -> Self {
        let mut read = upgraded.early;
        let end = read.len();
        read.resize(end.max(read_buffer), 0);
        let window = payloads.frames.first().map_or(0, Vec::len) * inflight;
        Self {
            stream: upgraded.stream,
            payloads,
            schedule,
            counters,
            read,
            start: 0,
            end,
            incoming: Incoming::Head,
            receiving: Receiving::None,
            write: Vec::with_capacity(window),
            written: 0,
            sent_at: VecDeque::with_capacity(inflight),
            owed: inflight,
            next_send: 0,
            next_expected: 0,
            greetings: 0,
            unreported: 0,
            stats: ConnStats::new(),
            inflater: None,
            compressed: None,
            message_wire: 0,
        }
    }

    async fn run(mut self) -> ConnStats {
        let end = self.schedule.end.into();
        let driven = tokio::time::timeout_at(end, poll_fn(|cx| self.poll_drive(cx))).await;
        // Reaching the deadline is the normal way out; finishing first means the
        // connection failed or the server closed it.
        if driven.is_ok() {
            self.stats.dropped = true;
            self.counters.add_error();
            return self.stats;
        }
        let _ = tokio::time::timeout(CLOSE_GRACE, self.close()).await;
        self.stats
    }

    /// Sends what is queued and a close frame, then reads until the server hangs up.
    async fn close(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.write[self.written..]).await?;
        self.stream.write_all(&frames::close_frame()).await?;
        while self.stream.read(&mut self.read).await? > 0 {}
        Ok(())
    }

    /// Never returns `Ready` while the connection is healthy.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut now = None;
        loop {
            let mut spare = ReadBuf::new(&mut self.read[self.end..]);
            match Pin::new(&mut self.stream).poll_read(cx, &mut spare) {
                Poll::Ready(Ok(())) => {
                    let filled = spare.filled().len();
                    if filled == 0 {
                        return Poll::Ready(());
                    }
                    self.end += filled;
                    let at = *now.get_or_insert_with(Instant::now);
                    // A close from the server or a frame that breaks the
                    // protocol both end the connection early.
                    if !matches!(self.parse(at), Ok(true)) {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => break,
            }
        }
        if self.unreported > 0 {
            self.counters.add_done(std::mem::take(&mut self.unreported));
        }

        if self.owed > 0 {
            let at = *now.get_or_insert_with(Instant::now);
            self.queue_replacements(at);
        }
        match self.poll_send(cx) {
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
        }
    }

    fn queue_replacements(&mut self, at: Instant) {
        if self.written == self.write.len() {
            self.write.clear();
            self.written = 0;
        }
        for _ in 0..self.owed {
            self.write
                .extend_from_slice(&self.payloads.frames[self.next_send]);
            self.next_send = (self.next_send + 1) % VARIANTS;
            self.sent_at.push_back(at);
        }
        self.owed = 0;
    }

    /// Writes until the buffer is empty or the socket is full.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.write.len() {
            let sent =
                ready!(Pin::new(&mut self.stream).poll_write(cx, &self.write[self.written..]))?;
            if sent == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += sent;
        }
        Poll::Ready(Ok(()))
    }

    /// Consumes every complete piece of `read[start..end]`; `Ok(false)` once the
    /// server has closed the session.
    fn parse(&mut self, at: Instant) -> Result<bool, FrameError> {
        loop {
            match self.incoming {
                Incoming::Head => {
                    let deflate = self.inflater.is_some();
                    let Some(head) = Head::parse_with(&self.read[self.start..self.end], deflate)?
                    else {
                        break;
                    };
                    if head.opcode >= frames::OP_CLOSE {
                        // `Head::parse` bounds control payloads to 125 bytes.
                        let whole = head.header_len + head.payload_len as usize;
                        if self.end - self.start < whole {
                            break;
                        }
                        let payload = self.start + head.header_len..self.start + whole;
                        self.start += whole;
                        match head.opcode {
                            frames::OP_CLOSE => return Ok(false),
                            frames::OP_PING => {
                                let pong =
                                    frames::masked_frame(frames::OP_PONG, &self.read[payload]);
                                self.write.extend_from_slice(&pong);
                            }
                            _ => {}
                        }
                        continue;
                    }
                    self.start += head.header_len;
                    self.message_wire += head.header_len as u64 + head.payload_len;
                    self.begin_fragment(head);
                    if head.compressed {
                        self.compressed = Some(Vec::new());
                    }
                    self.incoming = Incoming::Payload {
                        remaining: head.payload_len,
                        fin: head.fin,
                    };
                }
                Incoming::Payload { remaining, fin } => {
                    let available = (self.end - self.start) as u64;
                    let take = remaining.min(available) as usize;
                    let chunk = self.start..self.start + take;
                    match &mut self.compressed {
                        Some(compressed) => compressed.extend_from_slice(&self.read[chunk]),
                        None => self.check_chunk(chunk),
                    }
                    self.start += take;
                    let remaining = remaining - take as u64;
                    if remaining > 0 {
                        self.incoming = Incoming::Payload { remaining, fin };
                        break;
                    }
                    self.incoming = Incoming::Head;
                    if fin {
                        if let Some(compressed) = self.compressed.take() {
                            self.check_compressed(&compressed);
                        }
                        self.finish_message(at);
                    }
                }
            }
        }
        // Keep what is left (a partial header or nothing) at the front, so the
        // next read has the whole buffer behind it.
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.read.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        Ok(true)
    }

    fn begin_fragment(&mut self, head: Head) {
        match (head.opcode, self.receiving) {
            (frames::OP_CONTINUATION, Receiving::None) => self.mismatch(),
            (frames::OP_CONTINUATION, _) => {}
            (_, Receiving::None) if self.greetings > 0 => {
                self.greetings -= 1;
                self.receiving = Receiving::Greeting;
            }
            (opcode, Receiving::None) => {
                let variant = self.next_expected;
                self.next_expected = (self.next_expected + 1) % VARIANTS;
                self.receiving = Receiving::Echo {
                    variant,
                    matched: 0,
                    intact: opcode == self.payloads.opcode,
                };
            }
            // A new message inside an unfinished one.
            (_, _) => self.mismatch(),
        }
    }

    fn check_chunk(&mut self, chunk: std::ops::Range<usize>) {
        check_bytes(&mut self.receiving, &self.payloads, &self.read[chunk]);
    }

    /// Checks a whole compressed message once inflated; data that does not inflate is a
    /// mismatch.
    fn check_compressed(&mut self, compressed: &[u8]) {
        let Some(inflater) = self.inflater.as_mut() else {
            return;
        };
        match inflater.inflate(compressed) {
            Some(received) => check_bytes(&mut self.receiving, &self.payloads, received),
            None => {
                if let Receiving::Echo { intact, .. } = &mut self.receiving {
                    *intact = false;
                }
            }
        }
    }

    /// Records a message that has fully arrived; an echo frees a slot in the window.
    fn finish_message(&mut self, at: Instant) {
        let wire = std::mem::take(&mut self.message_wire);
        let Receiving::Echo {
            variant,
            matched,
            intact,
        } = std::mem::replace(&mut self.receiving, Receiving::None)
        else {
            return;
        };
        let Some(sent) = self.sent_at.pop_front() else {
            // More messages than we sent: not an echo, and no slot to refill.
            self.mismatch();
            return;
        };
        self.owed += 1;
        self.unreported += 1;
        if !intact || matched != self.payloads.echoes[variant].len() {
            self.mismatch();
        } else if at >= self.schedule.measure_from && at < self.schedule.end {
            self.stats.messages += 1;
            self.stats.bytes += matched as u64;
            self.stats.wire_bytes += wire;
            let nanos = u64::try_from(at.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
            self.stats.hist.saturating_record(nanos.max(1));
        }
    }

    fn mismatch(&mut self) {
        self.stats.mismatches += 1;
        self.counters.add_error();
    }
}
