//! Idle connections: open N, hold them, count how many survive. Used to measure
//! a server's memory per connection, so the client side stays as quiet as
//! possible (small buffers, no traffic beyond answering pings).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::StreamExt;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::progress::{Counters, Progress, Unit};
use super::report::{IdleReport, Report};
use super::{BenchArgs, Schedule};

/// Descriptors this process needs besides the connections (stdio, runtime, epoll).
const RESERVED_FDS: u64 = 32;

pub(super) async fn run(
    args: &BenchArgs,
    request: Request,
    count: u32,
    progress: &Progress,
) -> anyhow::Result<Report> {
    // `bench::run` already raised the soft limit as far as the hard limit allows.
    if let Some(limit) = super::raise_open_files_limit()
        && u64::from(count) + RESERVED_FDS > limit
    {
        progress.println(&format!(
            "warning: {count} connections need more descriptors than the limit of {limit} \
             (ulimit -Hn, the most this process may raise itself to); some will fail"
        ));
    }
    let connecting = Instant::now();
    let opened = super::open_connections(&request, count, progress).await;
    let connect_secs = connecting.elapsed().as_secs_f64();
    opened.require_any()?;
    opened.warn_failures(count, progress);
    let established = opened.streams.len() as u64;
    // Printed even with --json: `ws-cli perf` waits for this line to sample the server's memory
    // while every connection is open.
    progress.println(&holding_line(established, args.secs));

    let schedule = Schedule::starting_now(0.0, args.secs);
    let counters = Arc::new(Counters::default());
    counters.add_done(established);
    let ticker = progress.track(Arc::clone(&counters), schedule, Unit::Level("open"));

    let mut tasks = JoinSet::new();
    for mut ws in opened.streams {
        let counters = Arc::clone(&counters);
        tasks.spawn(async move {
            // Reading keeps pings answered; anything but the deadline ending
            // this wait means the server dropped us.
            let drain = async { while let Some(Ok(_)) = ws.next().await {} };
            let open_at_end = tokio::time::timeout_at(schedule.end.into(), drain)
                .await
                .is_err();
            if open_at_end {
                super::close_gracefully(ws).await;
            } else {
                counters.done.fetch_sub(1, Ordering::Relaxed);
                counters.add_error();
            }
            open_at_end
        });
    }
    let mut open_at_end = 0;
    while let Some(joined) = tasks.join_next().await {
        open_at_end += u64::from(joined.unwrap_or(false));
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    Ok(Report::Idle(IdleReport {
        url: args.url.clone(),
        requested: count,
        established,
        open_at_end,
        connect_secs: (connect_secs * 1000.0).round() / 1000.0,
        held_secs: args.secs,
        errors: opened.failures + (established - open_at_end),
    }))
}

/// The stderr line announcing that every connection is open and the hold has begun.
pub(crate) fn holding_line(established: u64, secs: f64) -> String {
    format!("{HOLDING} {established} connections for {secs} s")
}

const HOLDING: &str = "holding";

/// The connection count of a [`holding_line`], for callers watching `ws-cli bench --idle`'s
/// stderr for the moment all its connections are open.
pub(crate) fn parse_holding_line(line: &str) -> Option<u64> {
    let rest = line.strip_prefix(HOLDING)?.trim_start();
    let (count, rest) = rest.split_once(' ')?;
    rest.starts_with("connections")
        .then(|| count.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holding_line_round_trips() {
        assert_eq!(parse_holding_line(&holding_line(19_000, 3.0)), Some(19_000));
        assert_eq!(
            parse_holding_line("warning: 3 of 10 connections failed"),
            None
        );
        assert_eq!(parse_holding_line("holding many connections"), None);
    }
}
