//! Pipelined echo load: every connection keeps `--inflight` messages outstanding
//! and replaces each verified echo with a new message.
//!
//! Each connection is one task driving its socket from a single poll function,
//! without splitting the stream (no lock between a read half and a write half):
//! it reads every echo already buffered, queues one replacement per echo, and
//! flushes once when the read side would block, so a window of messages costs
//! one write syscall rather than one per message.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::progress::{Counters, Progress, Unit};
use super::report::{
    LatencySummary, Report, ThroughputReport, latency_histogram, mb_per_sec, per_sec,
};
use super::{BenchArgs, Schedule};
use crate::connect::WsStream;

/// Largest client frame header (2 + 8 length + 4 mask), for sizing buffers.
const MAX_FRAME_OVERHEAD: usize = 14;
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
    let config = super::ws_config(inflight * (size + MAX_FRAME_OVERHEAD));
    let opened = super::open_connections(&request, args.conns, config, progress).await;
    opened.require_any()?;
    opened.warn_failures(args.conns, progress);
    let established = opened.streams.len() as u64;

    let mut payloads = Payloads::new(size, args.binary)?;
    payloads.prefix = args.expect_prefix.clone().unwrap_or_default().into_bytes();
    let payloads = Arc::new(payloads);
    let schedule = Schedule::starting_now(args.warmup, args.secs);
    let counters = Arc::new(Counters::default());
    let ticker = progress.track(Arc::clone(&counters), schedule, Unit::Rate("msg"));

    let mut tasks = JoinSet::new();
    for ws in opened.streams {
        let mut conn = Connection::new(
            ws,
            Arc::clone(&payloads),
            inflight,
            schedule,
            Arc::clone(&counters),
        );
        conn.greetings = args.skip_first;
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
        latency_us: LatencySummary::from_ns(&total.hist),
        errors: total.mismatches + opened.failures + dropped,
        mismatches: total.mismatches,
        connect_errors: opened.failures,
        dropped_connections: dropped,
    }))
}

/// The rotation of payloads. Backed by one leaked buffer so cloning a message
/// for every send is a pointer copy: no allocation, no reference count.
struct Payloads {
    binary: bool,
    /// What the server puts in front of every echo.
    prefix: Vec<u8>,
    messages: Vec<Message>,
    bytes: Vec<&'static [u8]>,
}

impl Payloads {
    fn new(size: usize, binary: bool) -> anyhow::Result<Self> {
        let len = size + VARIANTS - 1;
        let base: Vec<u8> = if binary {
            (0..len).map(|i| (i % BINARY_PERIOD) as u8).collect()
        } else {
            TEXT_PATTERN.iter().copied().cycle().take(len).collect()
        };
        // Lives for the rest of the process, which is what lets `Bytes` borrow it.
        let base: &'static [u8] = Vec::leak(base);
        let mut payloads = Self {
            binary,
            prefix: Vec::new(),
            messages: Vec::with_capacity(VARIANTS),
            bytes: Vec::with_capacity(VARIANTS),
        };
        for offset in 0..VARIANTS {
            let slice = &base[offset..offset + size];
            let data = Bytes::from_static(slice);
            let message = if binary {
                Message::Binary(data)
            } else {
                Message::Text(Utf8Bytes::try_from(data).context("text payload is ASCII")?)
            };
            payloads.messages.push(message);
            payloads.bytes.push(slice);
        }
        Ok(payloads)
    }
}

/// What one connection contributes to the report.
struct ConnStats {
    messages: u64,
    bytes: u64,
    mismatches: u64,
    dropped: bool,
    hist: Histogram<u64>,
}

impl ConnStats {
    fn new() -> Self {
        Self {
            messages: 0,
            bytes: 0,
            mismatches: 0,
            dropped: false,
            hist: latency_histogram(),
        }
    }
}

struct Connection {
    ws: WsStream,
    payloads: Arc<Payloads>,
    schedule: Schedule,
    counters: Arc<Counters>,
    /// Send instants of the messages in flight, oldest first: echoes come back
    /// in order, so the front is always the message the next echo answers.
    sent_at: VecDeque<Instant>,
    /// Replacements owed to the window but not yet handed to the socket.
    owed: usize,
    unflushed: bool,
    next_send: usize,
    next_expected: usize,
    /// Non-reply messages the server still owes at the start (`--skip-first`).
    greetings: u32,
    stats: ConnStats,
}

impl Connection {
    fn new(
        ws: WsStream,
        payloads: Arc<Payloads>,
        inflight: usize,
        schedule: Schedule,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            ws,
            payloads,
            schedule,
            counters,
            sent_at: VecDeque::with_capacity(inflight),
            owed: inflight,
            unflushed: false,
            next_send: 0,
            next_expected: 0,
            greetings: 0,
            stats: ConnStats::new(),
        }
    }

    async fn run(mut self) -> ConnStats {
        let end = self.schedule.end.into();
        let driven = tokio::time::timeout_at(end, poll_fn(|cx| self.poll_drive(cx))).await;
        // Reaching the deadline is the normal way out; finishing first means the
        // connection failed.
        if driven.is_ok() {
            self.stats.dropped = true;
            self.counters.add_error();
        }
        super::close_gracefully(self.ws).await;
        self.stats
    }

    /// Never returns `Ready` while the connection is healthy.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut now = None;
        let mut echoed = 0;
        loop {
            match self.ws.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    let at = *now.get_or_insert_with(Instant::now);
                    if self.on_message(&message, at) {
                        self.owed += 1;
                        echoed += 1;
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                Poll::Pending => break,
            }
        }
        if echoed > 0 {
            self.counters.add_done(echoed);
        }

        while self.owed > 0 {
            match self.ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => break,
            }
            let message = self.payloads.messages[self.next_send].clone();
            self.next_send = (self.next_send + 1) % VARIANTS;
            if self.ws.start_send_unpin(message).is_err() {
                return Poll::Ready(());
            }
            self.sent_at
                .push_back(*now.get_or_insert_with(Instant::now));
            self.owed -= 1;
            self.unflushed = true;
        }

        if self.unflushed {
            match self.ws.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Verifies and records one incoming message; `true` if it answered one of
    /// ours and so frees a slot in the window.
    fn on_message(&mut self, message: &Message, at: Instant) -> bool {
        let (received, binary): (&[u8], bool) = match message {
            Message::Text(text) => (text.as_bytes(), false),
            Message::Binary(data) => (data, true),
            // Control frames are the server's business (pongs are automatic);
            // a close is followed by the end of the stream, handled by the caller.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return false;
            }
        };
        if self.greetings > 0 {
            self.greetings -= 1;
            return false;
        }
        let Some(sent) = self.sent_at.pop_front() else {
            // More messages than we sent: not an echo, and no slot to refill.
            self.mismatch();
            return false;
        };
        let expected = self.payloads.bytes[self.next_expected];
        self.next_expected = (self.next_expected + 1) % VARIANTS;
        let prefix = self.payloads.prefix.as_slice();
        let matches = received.len() == prefix.len() + expected.len()
            && received.starts_with(prefix)
            && &received[prefix.len()..] == expected;
        if binary != self.payloads.binary || !matches {
            self.mismatch();
        } else if at >= self.schedule.measure_from && at < self.schedule.end {
            self.stats.messages += 1;
            self.stats.bytes += received.len() as u64;
            let nanos = u64::try_from(at.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
            self.stats.hist.saturating_record(nanos.max(1));
        }
        true
    }

    fn mismatch(&mut self) {
        self.stats.mismatches += 1;
        self.counters.add_error();
    }
}
