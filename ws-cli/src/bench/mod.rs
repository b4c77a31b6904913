//! `ws-cli bench`: load generator for echo-style WebSocket endpoints.

mod chat_json;
mod deflate;
pub(crate) mod echo_server;
mod fanout;
mod frames;
mod handshake;
pub(crate) mod http_server;
pub(crate) mod idle;
mod progress;
pub(crate) mod push_reader;
mod report;
pub(crate) mod socketio;
mod throughput;
mod upgrade;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::connect::{self, ConnectError, RequestOptions, WsStream};

use self::progress::Progress;

/// Exit status when the run finished but saw errors (mismatched echoes, dropped
/// or refused connections). Not 2, which clap uses for usage errors.
const EXIT_HAD_ERRORS: u8 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on handshakes in progress at once while opening connections: a
/// burst of thousands of SYNs overflows the listen backlog and turns into 1s
/// retransmit stalls that would be reported as handshake latency.
const CONNECT_CONCURRENCY: usize = 256;
/// How long connections get to finish their close handshake after the run.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

const AFTER_HELP: &str = "\
Modes:
  default        each of --conns connections keeps --inflight messages of --size
                 bytes in flight against an echo endpoint, verifying every echo.
                 The endpoint must echo every message, in order, and send
                 nothing else (anything else counts as a mismatch).
  --handshakes   --conns workers open and close connections in a loop.
  --idle N       open N connections, hold them for --secs, report how many
                 stayed open (for memory-per-connection measurements; mind the
                 open-file limit of both processes).

Report: messages/s and MB/s count verified echoes and their payload bytes
(one direction, 1 MB = 10^6 bytes); latency is from handing a message to the
socket to reading its echo, in microseconds. Time spent in --warmup is not
counted. --json prints one JSON object on stdout instead of the text report.

Exit status:
  0  the run completed without errors
  1  no connection could be established, or bad arguments
  2  command-line usage error
  3  the run completed but saw errors (mismatched echoes, connections that
     failed or dropped)";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct BenchArgs {
    /// Echo endpoint URL, e.g. ws://127.0.0.1:9502/echo
    url: String,
    /// Concurrent connections (workers in --handshakes mode)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    conns: u32,
    /// Messages kept in flight per connection
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    inflight: u32,
    /// Payload size in bytes
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=(64 << 20)))]
    size: u32,
    /// Send binary messages instead of text
    #[arg(long)]
    binary: bool,
    /// Measured duration in seconds
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    secs: f64,
    /// Seconds of load before measuring starts
    #[arg(long, default_value_t = 0.0, value_parser = parse_secs)]
    warmup: f64,
    /// Print one JSON object on stdout instead of the text report
    #[arg(long)]
    json: bool,
    /// Runtime worker threads; 1 runs everything on the calling thread so the
    /// generator can be pinned to one core (taskset) apart from the server
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// Measure connection setup: open and close connections in a loop
    #[arg(long, conflicts_with_all = ["idle", "inflight", "size", "binary"])]
    handshakes: bool,
    /// Open N idle connections and hold them for --secs
    #[arg(long, value_name = "N", conflicts_with_all = ["inflight", "size", "binary", "warmup"])]
    idle: Option<u32>,
    /// Extra request header, repeatable
    #[arg(short = 'H', long = "header", value_name = "K:V", value_parser = connect::parse_header)]
    headers: Vec<(String, String)>,
    /// Requested subprotocol, repeatable
    #[arg(long = "subprotocol", value_name = "P")]
    subprotocols: Vec<String>,
    /// Fan-out mode: N members in one room (the URL must forward each message to every
    /// member, like the seed's `/room?name=R`); reports time until the last member has it
    #[arg(long, value_name = "N", conflicts_with_all = ["handshakes", "idle"])]
    fanout: Option<u32>,
    /// Broadcasts to time in fan-out mode
    #[arg(long, default_value_t = 100)]
    broadcasts: u32,
    /// Fan-out mode: also report this local process's CPU time per delivery, counted over the
    /// timed broadcasts only (not the members' handshakes)
    #[arg(long, value_name = "PID", requires = "fanout")]
    server_pid: Option<u32>,
    /// Each reply is the message with this text in front (the seed's `/` answers `Recv: <msg>`)
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["handshakes", "idle", "binary"])]
    expect_prefix: Option<String>,
    /// Messages the server sends first on each connection that are not replies (e.g. `Opened`)
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with_all = ["handshakes", "idle"])]
    skip_first: u32,
    /// Offer permessage-deflate (no context takeover either way). The echo load sends every
    /// message compressed and inflates compressed echoes; idle and handshake runs only
    /// negotiate it
    #[arg(long)]
    deflate: bool,
    /// What the messages carry: `pattern` (an alphanumeric pattern of --size bytes) or `chat`
    /// (chat-like JSON of --size bytes: one message up to 1 KiB, a room's history above, which
    /// compresses as a chat app's traffic does); `chat` is text only
    #[arg(long, value_enum, default_value = "pattern", conflicts_with = "binary")]
    payload: PayloadKind,
}

/// `--payload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PayloadKind {
    Pattern,
    Chat,
}

fn parse_secs(raw: &str) -> Result<f64, String> {
    let secs: f64 = raw.parse().map_err(|_| format!("not a number: {raw:?}"))?;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err("must be between 0 and 86400".to_owned());
    }
    Ok(secs)
}

/// When measuring starts (load starts at creation; the gap is the warmup) and
/// when everything stops. Shared by value so no task needs to ask anyone.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    measure_from: Instant,
    end: Instant,
}

impl Schedule {
    fn starting_now(warmup: f64, secs: f64) -> Self {
        let measure_from = Instant::now() + Duration::from_secs_f64(warmup);
        Self {
            measure_from,
            end: measure_from + Duration::from_secs_f64(secs),
        }
    }
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let mut headers = args.headers.clone();
    if args.deflate {
        headers.push(("Sec-WebSocket-Extensions".into(), deflate::OFFER.into()));
    }
    let opts = RequestOptions {
        headers,
        cookies: Vec::new(),
        subprotocols: args.subprotocols.clone(),
    };
    let request = connect::build_request(&args.url, &opts)?;
    raise_open_files_limit();
    if args.secs <= 0.0 && args.idle.is_none() && args.fanout.is_none() {
        bail!("--secs must be greater than 0");
    }
    let runtime = build_runtime(args.threads)?;
    let progress = Progress::new(!args.json);
    let outcome = runtime.block_on(async {
        if args.handshakes {
            handshake::run(&args, request, &progress).await
        } else if let Some(members) = args.fanout {
            fanout::run(&args, request, members, args.broadcasts, &progress).await
        } else if let Some(count) = args.idle {
            idle::run(&args, request, count, &progress).await
        } else {
            throughput::run(&args, request, &progress).await
        }
    });
    progress.finish();
    let report = outcome?;
    // Connections still closing must not hold the process past the report.
    runtime.shutdown_timeout(Duration::from_millis(100));

    if args.json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.errors() > 0 {
        ExitCode::from(EXIT_HAD_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft limit now in force.
///
/// Every connection costs a descriptor and distributions default the soft limit to 1,024, far
/// below what idle and fan-out runs open; the hard limit is the ceiling an unprivileged process
/// may lift itself to. Failure is not fatal: the run then warns or fails per connection.
pub(crate) fn raise_open_files_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

fn build_runtime(threads: u32) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads as usize);
        builder
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Outcome of opening a batch of connections.
struct Opened<S = WsStream> {
    streams: Vec<S>,
    failures: u64,
    first_error: Option<ConnectError>,
}

impl<S> Opened<S> {
    /// Stops the run when nothing connected: a report of zeros would only hide the cause.
    fn require_any(&self) -> anyhow::Result<()> {
        if !self.streams.is_empty() {
            return Ok(());
        }
        match &self.first_error {
            Some(err) => bail!("no connection could be established: {err}"),
            None => bail!("no connection could be established"),
        }
    }

    fn warn_failures(&self, requested: u32, progress: &Progress) {
        if let Some(err) = &self.first_error {
            progress.println(&format!(
                "warning: {} of {requested} connections failed (first: {err})",
                self.failures
            ));
        }
    }
}

/// Opens `count` tokio-tungstenite connections with bounded concurrency.
async fn open_connections(template: &Request, count: u32, progress: &Progress) -> Opened {
    open_with(template, count, progress, |request| async move {
        connect::connect(request, Some(ws_config()), CONNECT_TIMEOUT)
            .await
            .map(|(ws, _)| ws)
    })
    .await
}

/// Opens `count` connections with `connect`, at most [`CONNECT_CONCURRENCY`] at a time.
async fn open_with<S, F, Fut>(
    template: &Request,
    count: u32,
    progress: &Progress,
    connect: F,
) -> Opened<S>
where
    S: Send + 'static,
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<S, ConnectError>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let attempt = connect(connect::fresh_request(template));
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            attempt.await
        });
    }
    let mut opened = Opened {
        streams: Vec::with_capacity(count as usize),
        failures: 0,
        first_error: None,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(stream)) => opened.streams.push(stream),
            Ok(Err(err)) => {
                opened.failures += 1;
                opened.first_error.get_or_insert(err);
            }
            Err(_) => opened.failures += 1,
        }
        progress.set_message(format!("connecting {}/{count}", opened.streams.len()));
    }
    opened
}

/// Best-effort close handshake so the server sees orderly closes rather than resets.
async fn close_gracefully(mut ws: WsStream) {
    use futures_util::StreamExt;
    let closing = async {
        if ws.close(None).await.is_ok() {
            while ws.next().await.is_some() {}
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
}

/// Buffers for tokio-tungstenite connections that carry next to nothing (handshakes, idle
/// connections): small, so that many connections stay cheap. The echo and fan-out loads frame
/// their own sockets and size their own buffers.
const QUIET_BUFFER: usize = 4 << 10;

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(QUIET_BUFFER)
        .write_buffer_size(QUIET_BUFFER)
}
