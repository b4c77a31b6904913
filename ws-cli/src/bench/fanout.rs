//! Fan-out: N connections in one room, one message broadcast to all of them, time until the
//! last member has it. The trigger is one more connection that sends into the room, so the same
//! client measures any server whose route forwards a message to every member.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::BenchArgs;
use super::progress::Progress;
use super::report::{FanoutReport, LatencySummary, Report};

/// How long one broadcast may take to reach everyone before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Arrivals taken off the members' channel at once.
const RECV_BATCH: usize = 256;

pub(super) async fn run(
    args: &BenchArgs,
    request: Request,
    members: u32,
    broadcasts: u32,
    progress: &Progress,
) -> anyhow::Result<Report> {
    let opened =
        super::open_connections(&request, members + 1, super::ws_config(0), progress).await;
    opened.require_any()?;
    if opened.failures > 0 {
        bail!("{} of {} connections failed", opened.failures, members + 1);
    }
    let mut streams = opened.streams;
    let mut trigger = streams.pop().context("the trigger connection")?;
    let receivers = streams.len();

    let (tx, mut rx) = mpsc::unbounded_channel::<(u32, Instant)>();
    let mut tasks = JoinSet::new();
    for mut ws in streams {
        let tx = tx.clone();
        tasks.spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = &message
                    && let Some(id) = text.strip_prefix('b').and_then(|n| n.parse::<u32>().ok())
                    && tx.send((id, Instant::now())).is_err()
                {
                    return;
                }
            }
        });
    }
    drop(tx);
    // The trigger's own copies are read and dropped so its socket never fills up.
    let (mut trigger_write, mut trigger_read) = {
        let (w, r) = trigger.by_ref().split();
        (w, r)
    };
    let drain = async { while let Some(Ok(_)) = trigger_read.next().await {} };
    tokio::pin!(drain);

    let mut hist = super::report::latency_histogram();
    let mut arrivals = Vec::with_capacity(RECV_BATCH);
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
        let started = Instant::now();
        trigger_write
            .send(Message::text(format!("b{id}")))
            .await
            .context("trigger send")?;
        let mut got = 0;
        let mut last = started;
        // One timer for the whole broadcast (the bound is per broadcast, not per arrival), and
        // arrivals taken in batches: this loop shares the load generator's core with every
        // member's reads, so work per arrival here delays the reads and counts against the server.
        let deadline = tokio::time::sleep(DELIVERY_TIMEOUT);
        tokio::pin!(deadline);
        while got < receivers {
            tokio::select! {
                taken = rx.recv_many(&mut arrivals, RECV_BATCH) => {
                    if taken == 0 {
                        bail!("members disconnected during broadcast {id}");
                    }
                    for (seen, at) in arrivals.drain(..) {
                        if seen == id {
                            got += 1;
                            last = last.max(at);
                        }
                    }
                }
                _ = &mut drain => bail!("the trigger connection closed"),
                _ = &mut deadline => bail!("broadcast {id} reached {got} of {receivers} members within {DELIVERY_TIMEOUT:?}"),
            }
        }
        if id == 0 {
            cpu_at_start = server_cpu("after the warm-up")?;
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
    Ok(Report::Fanout(FanoutReport {
        url: args.url.clone(),
        members: receivers as u64,
        broadcasts: u64::from(broadcasts),
        last_delivery_us: LatencySummary::from_ns(&hist),
        server_cpu_us_per_delivery,
        errors: 0,
    }))
}

fn record(hist: &mut Histogram<u64>, nanos: u64) {
    hist.saturating_record(nanos.max(1));
}
