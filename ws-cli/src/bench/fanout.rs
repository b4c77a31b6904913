//! Fan-out: N connections in one room, one message broadcast to all of them, time until the
//! last member has it. The trigger is one more connection that sends into the room, so the same
//! client measures any server whose route forwards a message to every member.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::deflate::{self, Inflater};
use super::frames::{self, Head};
use super::progress::Progress;
use super::report::{FanoutReport, LatencySummary, Report};
use super::upgrade::{self, Upgraded};
use super::{BenchArgs, CONNECT_TIMEOUT};

/// How long one broadcast may take to reach everyone before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// A member's read buffer: broadcasts are a few bytes each, and a read takes what is there.
const MEMBER_BUFFER: usize = 1024;

/// Which broadcast the members are counting, and how many have it.
///
/// Every member reads on the generator's one core, so the member that completes the count is
/// the last delivery: it alone reads the clock, and the coordinator wakes once per broadcast
/// rather than once per arrival.
struct Tally {
    /// Bytes of the current broadcast's frames on the members' sockets, summed.
    wire_bytes: std::sync::atomic::AtomicU64,
    current: AtomicU32,
    got: AtomicUsize,
    receivers: usize,
    done: Notify,
    /// When the last member had the current broadcast.
    last: std::sync::Mutex<Option<Instant>>,
}

impl Tally {
    fn arrive(&self, id: u32, wire_bytes: usize) {
        if self.current.load(Ordering::Acquire) != id {
            return;
        }
        self.wire_bytes
            .fetch_add(wire_bytes as u64, Ordering::Relaxed);
        if self.got.fetch_add(1, Ordering::AcqRel) + 1 == self.receivers {
            let now = Instant::now();
            if let Ok(mut last) = self.last.lock() {
                *last = Some(now);
            }
            self.done.notify_one();
        }
    }

    /// Starts counting broadcast `id`.
    fn expect(&self, id: u32) {
        if let Ok(mut last) = self.last.lock() {
            *last = None;
        }
        self.got.store(0, Ordering::Release);
        self.current.store(id, Ordering::Release);
    }

    fn last(&self) -> Option<Instant> {
        self.last.lock().ok().and_then(|last| *last)
    }
}

pub(super) async fn run(
    args: &BenchArgs,
    request: Request,
    members: u32,
    broadcasts: u32,
    progress: &Progress,
) -> anyhow::Result<Report> {
    let opened = super::open_with(&request, members + 1, progress, |request| {
        upgrade::upgrade(request, CONNECT_TIMEOUT)
    })
    .await;
    opened.require_any()?;
    if opened.failures > 0 {
        bail!("{} of {} connections failed", opened.failures, members + 1);
    }
    let mut streams = opened.streams;
    let trigger = streams.pop().context("the trigger connection")?;
    let receivers = streams.len();

    let tally = Arc::new(Tally {
        wire_bytes: std::sync::atomic::AtomicU64::new(0),
        current: AtomicU32::new(u32::MAX),
        got: AtomicUsize::new(0),
        receivers,
        done: Notify::new(),
        last: std::sync::Mutex::new(None),
    });
    let chat = args.payload == super::PayloadKind::Chat;
    let setup = Member {
        // A whole frame of the broadcast must fit, uncompressed when a member did not agree.
        buffer: MEMBER_BUFFER.max(args.size as usize + 14),
        deflate: args.deflate,
    };
    let mut tasks = JoinSet::new();
    for upgraded in streams {
        tasks.spawn(member(upgraded, setup, Some(Arc::clone(&tally)), None));
    }
    // The trigger reads (and drops) its own copies like a member, and sends what it is given.
    let (trigger_tx, trigger_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut trigger = tokio::spawn(member(trigger, setup, None, Some(trigger_rx)));

    let mut hist = super::report::latency_histogram();
    let server_cpu = |at: &str| -> anyhow::Result<Option<f64>> {
        args.server_pid
            .map(|pid| {
                crate::perf::process::cpu_seconds(pid)
                    .with_context(|| format!("reading the CPU time of server {pid} {at}"))
            })
            .transpose()
    };
    let mut cpu_at_start = None;
    // Round 0 is a warm-up that also proves every member has joined.
    for id in 0..=broadcasts {
        let payload = match chat {
            true => super::chat_json::chat_json(args.size as usize, id as usize),
            false => format!("b{id}").into_bytes(),
        };
        let tag = broadcast_id(&payload).context("a broadcast without its id")?;
        tally.expect(tag);
        let frame = match args.deflate {
            true => frames::masked_flagged_frame(
                frames::RSV1,
                frames::OP_TEXT,
                &deflate::compress(&payload),
            ),
            false => frames::masked_frame(frames::OP_TEXT, &payload),
        };
        let started = Instant::now();
        trigger_tx
            .send(frame)
            .map_err(|_| anyhow::anyhow!("the trigger connection closed"))?;
        tokio::select! {
            () = tally.done.notified() => {}
            _ = &mut trigger => bail!("the trigger connection closed"),
            _ = tasks.join_next() => bail!("a member disconnected during broadcast {id}"),
            () = tokio::time::sleep(DELIVERY_TIMEOUT) => {
                let got = tally.got.load(Ordering::Acquire);
                bail!("broadcast {id} reached {got} of {receivers} members within {DELIVERY_TIMEOUT:?}");
            }
        }
        let last = tally.last().unwrap_or(started);
        if id == 0 {
            cpu_at_start = server_cpu("after the warm-up")?;
            tally.wire_bytes.store(0, Ordering::Relaxed);
        } else {
            let nanos = u64::try_from(last.duration_since(started).as_nanos()).unwrap_or(u64::MAX);
            record(&mut hist, nanos);
        }
        progress.set_message(format!("broadcast {id}/{broadcasts}"));
    }
    let server_cpu_us_per_delivery = match (cpu_at_start, server_cpu("at the end")?) {
        (Some(start), Some(end)) if broadcasts > 0 && receivers > 0 => {
            Some((end - start) * 1e6 / (f64::from(broadcasts) * receivers as f64))
        }
        _ => None,
    };
    tasks.abort_all();
    trigger.abort();
    Ok(Report::Fanout(FanoutReport {
        url: args.url.clone(),
        members: receivers as u64,
        broadcasts: u64::from(broadcasts),
        last_delivery_us: LatencySummary::from_ns(&hist),
        server_cpu_us_per_delivery,
        wire_bytes_per_delivery: super::report::per_message(
            tally.wire_bytes.load(Ordering::Relaxed),
            u64::from(broadcasts) * receivers as u64,
        ),
        errors: 0,
    }))
}

fn record(hist: &mut Histogram<u64>, nanos: u64) {
    hist.saturating_record(nanos.max(1));
}

/// Reads one connection until it ends: counts each broadcast (`b<id>`) in `tally`, answers
/// pings, and writes whatever arrives on `outgoing` (the trigger's sends).
/// How a member reads.
#[derive(Debug, Clone, Copy)]
struct Member {
    buffer: usize,
    /// permessage-deflate was offered: compressed broadcasts are inflated to find their id.
    deflate: bool,
}

/// The id a broadcast carries: `b<id>`, or the first `"id":` of a chat payload.
fn broadcast_id(payload: &[u8]) -> Option<u32> {
    let digits = match payload.strip_prefix(b"b") {
        Some(digits) => digits,
        None => {
            let key = b"\"id\":";
            let at = payload.windows(key.len()).position(|w| w == key)? + key.len();
            let rest = &payload[at..];
            let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            &rest[..len]
        }
    };
    std::str::from_utf8(digits).ok()?.parse().ok()
}

async fn member(
    upgraded: Upgraded,
    setup: Member,
    tally: Option<Arc<Tally>>,
    mut outgoing: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
) {
    let Upgraded { mut stream, early } = upgraded;
    let mut buf = vec![0; setup.buffer.max(early.len())];
    let mut inflater = setup.deflate.then(Inflater::default);
    buf[..early.len()].copy_from_slice(&early);
    let mut end = early.len();
    loop {
        let mut start = 0;
        while let Ok(Some(head)) = Head::parse_with(&buf[start..end], setup.deflate) {
            // Broadcasts and control frames are small: a frame that cannot fit is not ours.
            let whole = head.header_len + usize::try_from(head.payload_len).unwrap_or(usize::MAX);
            if whole > buf.len() {
                return;
            }
            if end - start < whole {
                break;
            }
            let payload = &buf[start + head.header_len..start + whole];
            match head.opcode {
                frames::OP_TEXT => {
                    let id = match (head.compressed, &mut inflater) {
                        (true, Some(inflater)) => inflater.inflate(payload).and_then(broadcast_id),
                        _ => broadcast_id(payload),
                    };
                    if let (Some(tally), Some(id)) = (&tally, id) {
                        tally.arrive(id, whole);
                    }
                }
                frames::OP_PING => {
                    let pong = frames::masked_frame(frames::OP_PONG, payload);
                    if stream.write_all(&pong).await.is_err() {
                        return;
                    }
                }
                frames::OP_CLOSE => return,
                _ => {}
            }
            start += whole;
        }
        if Head::parse_with(&buf[start..end], setup.deflate).is_err() {
            return;
        }
        buf.copy_within(start..end, 0);
        end -= start;

        let read = match &mut outgoing {
            None => stream.read(&mut buf[end..]).await,
            Some(outgoing) => tokio::select! {
                read = stream.read(&mut buf[end..]) => read,
                frame = outgoing.recv() => {
                    let Some(frame) = frame else { return };
                    if stream.write_all(&frame).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(read) => end += read,
        }
    }
}
