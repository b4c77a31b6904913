//! Connection setup rate: workers open a connection, close it, and start over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::progress::{Counters, Progress, Unit};
use super::report::{HandshakeReport, LatencySummary, Report, latency_histogram, per_sec};
use super::{BenchArgs, CONNECT_TIMEOUT, Schedule};
use crate::connect;

/// Pause after a failed attempt so a refusing server is not met with a busy
/// loop that would mostly measure how fast we can fail.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

struct WorkerStats {
    handshakes: u64,
    errors: u64,
    first_error: Option<String>,
    hist: hdrhistogram::Histogram<u64>,
}

pub(super) async fn run(
    args: &BenchArgs,
    request: Request,
    progress: &Progress,
) -> anyhow::Result<Report> {
    // Nothing but the handshake and close frames crosses these connections.
    let config = super::ws_config();
    let schedule = Schedule::starting_now(args.warmup, args.secs);
    let counters = Arc::new(Counters::default());
    let ticker = progress.track(Arc::clone(&counters), schedule, Unit::Rate("handshake"));
    let request = Arc::new(request);

    let mut tasks = JoinSet::new();
    for _ in 0..args.conns {
        let request = Arc::clone(&request);
        let counters = Arc::clone(&counters);
        tasks.spawn(async move {
            let mut stats = WorkerStats {
                handshakes: 0,
                errors: 0,
                first_error: None,
                hist: latency_histogram(),
            };
            let end = tokio::time::Instant::from(schedule.end);
            let work = async {
                loop {
                    let started = Instant::now();
                    let attempt = connect::connect(
                        connect::fresh_request(&request),
                        Some(config),
                        CONNECT_TIMEOUT,
                    )
                    .await;
                    let done = Instant::now();
                    let measured = done >= schedule.measure_from && done < schedule.end;
                    match attempt {
                        Ok((ws, _)) => {
                            if measured {
                                stats.handshakes += 1;
                                let nanos = u64::try_from(done.duration_since(started).as_nanos())
                                    .unwrap_or(u64::MAX);
                                stats.hist.saturating_record(nanos.max(1));
                            }
                            counters.add_done(1);
                            super::close_gracefully(ws).await;
                        }
                        Err(err) => {
                            stats.errors += 1;
                            stats.first_error.get_or_insert_with(|| err.to_string());
                            counters.add_error();
                            tokio::time::sleep(RETRY_PAUSE).await;
                        }
                    }
                }
            };
            // The loop never ends by itself; the deadline is its only exit.
            let _ = tokio::time::timeout_at(end, work).await;
            stats
        });
    }

    let mut hist = latency_histogram();
    let (mut handshakes, mut errors, mut first_error) = (0, 0, None);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => {
                handshakes += stats.handshakes;
                errors += stats.errors;
                first_error = first_error.or(stats.first_error);
                // Same bounds on both sides, so adding cannot fail.
                let _ = hist.add(&stats.hist);
            }
            Err(_) => errors += 1,
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if handshakes == 0
        && let Some(err) = first_error
    {
        anyhow::bail!("no connection could be established ({errors} attempts failed): {err}");
    }
    Ok(Report::Handshakes(HandshakeReport {
        url: args.url.clone(),
        conns: args.conns,
        threads: args.threads,
        warmup_secs: args.warmup,
        secs: args.secs,
        handshakes,
        handshakes_per_sec: per_sec(handshakes, args.secs),
        latency_us: LatencySummary::from_ns(&hist),
        errors,
    }))
}
