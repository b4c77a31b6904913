//! `ws-cli bench-socketio`: a Socket.IO load generator (Engine.IO v4, Socket.IO v5, WebSocket
//! transport), for `ws-cli perf --only sio-ack,sio-room`.
//!
//! It frames its own bare sockets like the echo load (`throughput.rs`): a load generator that
//! shares the machine with the server it measures must cost as little per event as it can, and a
//! JavaScript client would be the limit long before any server here. It speaks just enough of
//! the protocol for the two loads; the protocol itself is tested with the official clients
//! (`tests/`).
//!
//! - acks (`ack.rs`): `--conns` clients, each keeping `--inflight` events
//!   `42<id>["echo","<payload>"]` outstanding and checking each ack `43<id>["<payload>"]`;
//! - room (`room.rs`): `--room-members` clients join a room with `join-room`, one more client
//!   sends `say` to it keeping `--inflight` messages not yet delivered to every member, and
//!   each member checks it gets every message, in order.

mod ack;
mod conn;
mod room;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Schedule;
use crate::connect::{self, RequestOptions};

/// The Engine.IO endpoint, WebSocket transport from the start (no polling upgrade).
const ENGINE_PATH: &str = "/socket.io/?EIO=4&transport=websocket";
/// How long one client gets for its handshakes (WebSocket, Engine.IO, namespace, room).
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub(crate) struct BenchSocketIoArgs {
    /// The server, e.g. ws://127.0.0.1:9502 (the Engine.IO path is added)
    url: String,
    /// Clients of the ack load
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    conns: u32,
    /// Events awaiting their ack per client; in room mode, messages not yet delivered to every
    /// member
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    inflight: u32,
    /// Length of the string each `echo` event carries
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    size: u32,
    /// Measured seconds
    #[arg(long, default_value_t = 5.0, value_parser = super::parse_secs)]
    secs: f64,
    /// Seconds of load before measuring starts
    #[arg(long, default_value_t = 0.5, value_parser = super::parse_secs)]
    warmup: f64,
    /// Room mode: this many members join the room `--room`, one more client says things to it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    room_members: Option<u32>,
    /// The room of room mode
    #[arg(long, default_value = "bench")]
    room: String,
    /// Also report this local process's CPU time per event (per delivery in room mode), counted
    /// over the measured seconds only
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

/// What `bench-socketio` prints, as one JSON object.
#[derive(Debug, Serialize)]
pub(super) struct SocketIoReport {
    mode: &'static str,
    url: String,
    clients: u64,
    secs: f64,
    /// Acked events (ack mode) or deliveries to members (room mode) in the measured seconds.
    count: u64,
    per_sec: f64,
    server_cpu_us_per_count: Option<f64>,
    errors: u64,
    /// The first error, if any, for the log.
    first_error: Option<String>,
}

pub(crate) fn run(args: BenchSocketIoArgs) -> anyhow::Result<ExitCode> {
    let base = args.url.trim_end_matches('/');
    let request =
        connect::build_request(&format!("{base}{ENGINE_PATH}"), &RequestOptions::default())?;
    super::raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        match args.room_members {
            Some(members) => room::run(&args, request, members).await,
            None => ack::run(&args, request).await,
        }
    })?;
    // Clients still connected must not hold the process past the report.
    runtime.shutdown_timeout(Duration::from_millis(100));
    println!("{}", serde_json::to_string(&report)?);
    Ok(if report.errors > 0 {
        ExitCode::from(super::EXIT_HAD_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Counts taken at the start and at the end of the measured seconds.
pub(super) struct Window {
    count: u64,
    cpu: Option<f64>,
}

impl Window {
    pub(super) fn take(count: u64, server_pid: Option<u32>) -> Self {
        Self {
            count,
            cpu: server_pid.and_then(crate::perf::process::cpu_seconds),
        }
    }
}

impl SocketIoReport {
    pub(super) fn new(
        mode: &'static str,
        args: &BenchSocketIoArgs,
        clients: u64,
        (start, end): (Window, Window),
        errors: u64,
        first_error: Option<String>,
    ) -> Self {
        let count = end.count.saturating_sub(start.count);
        let server_cpu_us_per_count = match (start.cpu, end.cpu) {
            (Some(before), Some(after)) if count > 0 => Some((after - before) * 1e6 / count as f64),
            _ => None,
        };
        Self {
            mode,
            url: args.url.clone(),
            clients,
            secs: args.secs,
            count,
            per_sec: super::report::per_sec(count, args.secs),
            server_cpu_us_per_count,
            errors,
            first_error,
        }
    }
}

/// Waits for the measured seconds of `schedule` and takes the counts around them.
pub(super) async fn measure(
    schedule: Schedule,
    server_pid: Option<u32>,
    count: impl Fn() -> u64,
) -> (Window, Window) {
    tokio::time::sleep_until(schedule.measure_from.into()).await;
    let start = Window::take(count(), server_pid);
    tokio::time::sleep_until(schedule.end.into()).await;
    (start, Window::take(count(), server_pid))
}
