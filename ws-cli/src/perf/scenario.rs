//! The benchmark scenarios and the table they produce.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::process::{HeldClient, Pinning, Server, free_port, wait_for_port};

/// How long a server's memory gets to settle, after start-up and after the last connection.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `ws-cli bench --idle` gets to open its connections; 19,000 take a few seconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The HTTP load generator, looked up on `PATH` (Debian package `wrk`).
pub(super) const WRK: &str = "wrk";
/// Share of its core a server must keep busy for its requests/s to measure the server rather
/// than the load generator.
const SATURATED: f64 = 0.9;
/// The idle-memory metric, also projected to a million connections under the table.
const IDLE_METRIC: &str = "server RSS bytes per idle connection";

pub(super) struct Binaries {
    pub(super) cli: PathBuf,
    pub(super) echo_server: PathBuf,
    pub(super) seed: PathBuf,
    /// A folder holding `node_modules/uws-pack`, for the `uws` scenario.
    pub(super) uws: Option<PathBuf>,
    /// The references of the Socket.IO scenarios.
    pub(super) socketio: super::socketio::References,
}

/// uWebSockets.js echoing from its JavaScript callback, as its own examples do; the port is
/// its first argument. Written next to the `uws-pack` install, where node resolves it.
const UWS_ECHO: &str = "\
import { App } from 'uws-pack';
const port = Number(process.argv[2]);
App()
  .ws('/*', { maxPayloadLength: 16 << 20, message: (ws, message, isBinary) => { ws.send(message, isBinary); } })
  .listen('127.0.0.1', port, (token) => { if (!token) { process.exit(1); } });
";

pub(super) struct Settings {
    pub(super) rounds: u32,
    pub(super) secs: f64,
    pub(super) idle_conns: u32,
    pub(super) fanout_members: u32,
    pub(super) broadcasts: u32,
    /// Members of the Socket.IO room scenario.
    pub(super) sio_room_members: u32,
    /// A Redis URL: `sio-room-recovery` also measures recovery with the Redis store.
    pub(super) sio_recovery_redis: Option<String>,
    pub(super) pin: Pinning,
}

/// A comparison of the framework with a reference; the value names are what `--only` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Scenario {
    #[value(name = "text")]
    TextThroughput,
    #[value(name = "binary")]
    BinaryThroughput,
    #[value(name = "latency")]
    Latency,
    #[value(name = "handshakes")]
    Handshakes,
    #[value(name = "seed")]
    SeedController,
    #[value(name = "fanout")]
    Fanout,
    #[value(name = "http")]
    HttpSend,
    #[value(name = "idle")]
    IdleMemory,
    /// The text echo against uWebSockets.js (npm `uws-pack`); only when named with `--only`,
    /// since it needs node and an npm install (`scripts/perf-uws.sh`).
    #[value(name = "uws")]
    Uws,
    /// permessage-deflate against the same server uncompressed: 300 B text echo. Only when
    /// named with `--only`, like the two below.
    #[value(name = "deflate-300")]
    Deflate300,
    /// permessage-deflate against uncompressed: 4 KiB text echo.
    #[value(name = "deflate-4k")]
    Deflate4k,
    /// Server RSS per idle connection with permessage-deflate negotiated, against without.
    #[value(name = "deflate-idle")]
    DeflateIdle,
    /// Socket.IO acked events against Node's `socket.io` and socketioxide; only when named, like
    /// the room one below (`scripts/perf-socketio.sh` sets the references up).
    #[value(name = "sio-ack")]
    SioAck,
    /// Socket.IO emits to a room of `--sio-room-members` against the same references.
    #[value(name = "sio-room")]
    SioRoom,
    /// The room load against the framework alone, connection state recovery off and on
    /// ([`super::sio_recovery`]).
    #[value(name = "sio-room-recovery")]
    SioRoomRecovery,
    /// Chat-like JSON echo (300 B and 4 KiB), the framework compressed and uncompressed against
    /// Node `ws` and Python `websockets` with deflate on ([`super::deflate_refs`]).
    #[value(name = "deflate-refs")]
    DeflateRefs,
    /// A room broadcast of chat JSON to 1,000 members, compressed and uncompressed, and the
    /// references.
    #[value(name = "deflate-room")]
    DeflateRoom,
    /// Server RSS per idle connection: deflate negotiated, plain, and the references.
    #[value(name = "deflate-idle-refs")]
    DeflateIdleRefs,
}

impl Scenario {
    /// Whether [`super::deflate_refs`] runs it (more than two servers, a table of its own).
    pub(super) fn against_references(self) -> bool {
        matches!(
            self,
            Scenario::DeflateRefs | Scenario::DeflateRoom | Scenario::DeflateIdleRefs
        )
    }
}

/// Which server of a comparison a target is.
#[derive(Debug, Clone, Copy)]
enum Side {
    Reference,
    Framework,
}

/// One line of the result table: a metric measured on the reference and on the framework.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Row {
    pub(super) scenario: &'static str,
    pub(super) metric: &'static str,
    pub(super) reference_name: &'static str,
    pub(super) reference: f64,
    pub(super) framework_name: &'static str,
    pub(super) framework: f64,
    /// Whether a larger figure is better (throughput) or worse (latency, CPU, memory).
    pub(super) higher_is_better: bool,
    /// Framework over reference in each round (the two sides of a round run back to back), so
    /// a reader can tell a steady lead from one good round on a noisy machine.
    pub(super) round_ratios: Vec<f64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        ratio(self.framework, self.reference)
    }

    /// The spread of the per-round ratios and how many rounds the framework won, or nothing
    /// for a single round.
    fn spread(&self) -> String {
        let rounds = self.round_ratios.len();
        if rounds < 2 {
            return String::new();
        }
        let low = self
            .round_ratios
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let high = self.round_ratios.iter().copied().fold(0.0, f64::max);
        let won = self
            .round_ratios
            .iter()
            .filter(|r| {
                if self.higher_is_better {
                    **r > 1.0
                } else {
                    **r < 1.0
                }
            })
            .count();
        format!("{low:.2}×–{high:.2}×, better in {won}/{rounds}")
    }
}

pub(super) fn ratio(framework: f64, reference: f64) -> f64 {
    if reference == 0.0 {
        0.0
    } else {
        framework / reference
    }
}

/// One side of a comparison.
pub(super) struct Target {
    pub(super) server: Server,
    /// The WebSocket path the load generator connects to.
    pub(super) path: &'static str,
    pub(super) extra: Vec<String>,
    /// Where wrk sends its requests, in the HTTP scenario.
    pub(super) http: Option<HttpEndpoint>,
}

pub(super) struct HttpEndpoint {
    port: u16,
    path: &'static str,
    /// Whether the route pushes to a connection (`/server/send?fd=N`), so that a WebSocket
    /// client has to be connected at [`Target::path`] and reading for the run's duration.
    pushes: bool,
}

impl Target {
    pub(super) fn url(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.server.port, self.path)
    }
}

impl Scenario {
    /// Every scenario, in the order a full run takes them.
    pub(super) const ALL: [Scenario; 8] = [
        Scenario::TextThroughput,
        Scenario::BinaryThroughput,
        Scenario::Latency,
        Scenario::Handshakes,
        Scenario::SeedController,
        Scenario::Fanout,
        Scenario::HttpSend,
        Scenario::IdleMemory,
    ];

    pub(super) fn title(self) -> &'static str {
        match self {
            Scenario::TextThroughput => "64 B text echo, 50 conns x 16 in flight",
            Scenario::Uws => "64 B text echo, 50 conns x 16 in flight, vs uWebSockets.js",
            Scenario::BinaryThroughput => "16 KiB binary echo, 20 conns x 4 in flight",
            Scenario::Latency => "latency, 1 conn x 1 in flight, 64 B",
            Scenario::Handshakes => "handshakes, 50 workers",
            Scenario::SeedController => {
                "seed controller `/` (`Opened`, then `Recv: <msg>`), 50 conns x 16 in flight"
            }
            Scenario::IdleMemory => "idle connections, server RSS",
            Scenario::Fanout => "room broadcast, time to the last member",
            Scenario::HttpSend => "HTTP `/server/send` push (wrk, 50 conns) vs bare hyper `hello`",
            Scenario::Deflate300 => "300 B text echo, 50 conns x 16 in flight, permessage-deflate",
            Scenario::Deflate4k => "4 KiB text echo, 20 conns x 4 in flight, permessage-deflate",
            Scenario::DeflateIdle => "idle connections, server RSS, permessage-deflate negotiated",
            Scenario::SioAck => {
                "Socket.IO `echo` events with acks, 50 clients x 16 in flight, 32-char string"
            }
            Scenario::SioRoom => {
                "Socket.IO `say` to a room (`to(room).emit`), 16 messages in flight to every member"
            }
            Scenario::SioRoomRecovery => {
                "Socket.IO `say` to a room, connection state recovery off and on (`/`)"
            }
            Scenario::DeflateRefs => "permessage-deflate vs Node ws and Python websockets, echo",
            Scenario::DeflateRoom => "permessage-deflate, room broadcast to 1,000 members",
            Scenario::DeflateIdleRefs => "permessage-deflate, idle connections, server RSS",
        }
    }

    pub(super) fn run(self, bins: &Binaries, settings: &Settings) -> anyhow::Result<Vec<Row>> {
        if matches!(self, Scenario::SioAck | Scenario::SioRoom) {
            // Three servers (two references), so its own loop.
            return super::socketio::run(self, bins, settings);
        }
        if self == Scenario::SioRoomRecovery {
            return super::sio_recovery::run(bins, settings);
        }
        // Idle memory needs servers that have held nothing yet: one that ran other load reuses
        // the heap it freed for new connections, so its RSS barely grows. The other scenarios
        // keep one server per side for all rounds.
        let shared = match self {
            Scenario::IdleMemory | Scenario::DeflateIdle => None,
            _ => Some([
                self.target(Side::Reference, bins, settings)?,
                self.target(Side::Framework, bins, settings)?,
            ]),
        };
        let (ref_name, fw_name) = match self {
            Scenario::SeedController => ("tokio-tungstenite, same replies", "seed /"),
            Scenario::Fanout => ("tokio broadcast channel", "seed /room"),
            Scenario::HttpSend => ("bare hyper", "seed /server/send"),
            Scenario::Uws => ("uWebSockets.js (JS callback)", "echo-server"),
            Scenario::Deflate300 | Scenario::Deflate4k | Scenario::DeflateIdle => {
                ("echo-server, uncompressed", "echo-server, deflate")
            }
            _ => ("tokio-tungstenite", "echo-server"),
        };
        let mut samples: Vec<[Vec<f64>; 2]> = Vec::new();
        for _ in 0..settings.rounds {
            for (index, side) in [Side::Reference, Side::Framework].into_iter().enumerate() {
                let fresh;
                let target = match &shared {
                    Some(targets) => &targets[index],
                    None => {
                        fresh = self.target(side, bins, settings)?;
                        &fresh
                    }
                };
                let figures = self.measure(bins, settings, target)?;
                if samples.len() < figures.len() {
                    samples.resize_with(figures.len(), Default::default);
                }
                for (i, value) in figures.into_iter().enumerate() {
                    samples[i][index].push(value);
                }
            }
        }
        let metrics = self.metrics();
        Ok(metrics
            .iter()
            .zip(samples)
            .map(|((metric, higher_is_better), [r, f])| Row {
                scenario: self.title(),
                metric,
                reference_name: ref_name,
                round_ratios: f.iter().zip(&r).map(|(f, r)| ratio(*f, *r)).collect(),
                reference: median(r),
                framework_name: fw_name,
                framework: median(f),
                higher_is_better: *higher_is_better,
            })
            .collect())
    }

    fn metrics(self) -> &'static [(&'static str, bool)] {
        match self {
            Scenario::TextThroughput | Scenario::Uws => &[
                ("messages/s", true),
                ("server CPU s per million messages", false),
            ],
            Scenario::BinaryThroughput => &[("MB/s", true), ("server CPU s per GB", false)],
            Scenario::Latency => &[("p50 µs", false), ("p99 µs", false)],
            Scenario::Handshakes => &[
                ("handshakes/s", true),
                ("server CPU µs per handshake", false),
            ],
            Scenario::SeedController => &[
                ("messages/s", true),
                ("server CPU s per million messages", false),
            ],
            Scenario::IdleMemory | Scenario::DeflateIdle => &[(IDLE_METRIC, false)],
            Scenario::Deflate300 | Scenario::Deflate4k => {
                &[("messages/s", true), ("server CPU µs per message", false)]
            }
            Scenario::Fanout => &[
                ("p50 µs to last delivery", false),
                ("p99 µs to last delivery", false),
                ("server CPU µs per delivery", false),
            ],
            Scenario::HttpSend => &[("requests/s", true), ("server CPU µs per request", false)],
            // Measured in `perf/socketio.rs`, with its own metrics.
            Scenario::SioAck | Scenario::SioRoom | Scenario::SioRoomRecovery => &[],
            Scenario::DeflateRefs | Scenario::DeflateRoom | Scenario::DeflateIdleRefs => &[],
        }
    }

    /// Starts the server of one side.
    fn target(self, side: Side, bins: &Binaries, settings: &Settings) -> anyhow::Result<Target> {
        let pin = settings.pin;
        let ws = |server, path| Target {
            server,
            path,
            extra: Vec::new(),
            http: None,
        };
        Ok(match (self, side) {
            // The reference answers as the seed's `/` controller does, formatting each reply
            // the same way, so the row compares the frameworks under one application.
            (Scenario::SeedController, Side::Reference) => Target {
                extra: seed_root_checks(),
                ..ws(
                    start_baseline(
                        pin,
                        &bins.cli,
                        "bench-baseline-server",
                        &["--greeting", "Opened", "--prefix", "Recv: "],
                    )?,
                    "/",
                )
            },
            (Scenario::SeedController, Side::Framework) => Target {
                extra: seed_root_checks(),
                ..ws(start_app(pin, &bins.seed)?.0, "/")
            },
            (Scenario::Fanout, Side::Reference) => ws(
                start_baseline(pin, &bins.cli, "bench-baseline-fanout-server", &[])?,
                "/",
            ),
            (Scenario::Fanout, Side::Framework) => {
                ws(start_app(pin, &bins.seed)?.0, "/room?name=bench")
            }
            (Scenario::HttpSend, Side::Reference) => {
                let server = start_baseline(pin, &bins.cli, "bench-baseline-http-server", &[])?;
                let http = HttpEndpoint {
                    port: server.port,
                    path: "/",
                    pushes: false,
                };
                Target {
                    http: Some(http),
                    ..ws(server, "/")
                }
            }
            (Scenario::HttpSend, Side::Framework) => {
                let (server, http_port) = start_app(pin, &bins.seed)?;
                wait_for_port(http_port)?;
                let http = HttpEndpoint {
                    port: http_port,
                    path: "/server/send",
                    pushes: true,
                };
                Target {
                    http: Some(http),
                    ..ws(server, "/")
                }
            }
            (Scenario::Uws, Side::Reference) => {
                let dir = bins
                    .uws
                    .as_deref()
                    .context("the uws scenario needs --uws-dir (see scripts/perf-uws.sh)")?;
                ws(start_uws(pin, dir)?, "/")
            }
            // The same server both sides; the client offers the extension on one.
            (Scenario::Deflate300 | Scenario::Deflate4k | Scenario::DeflateIdle, side) => {
                let extra = match side {
                    Side::Reference => Vec::new(),
                    Side::Framework => vec!["--deflate".to_string()],
                };
                Target {
                    extra,
                    ..ws(start_app(pin, &bins.echo_server)?.0, "/")
                }
            }
            (_, Side::Reference) => ws(
                start_baseline(pin, &bins.cli, "bench-baseline-server", &[])?,
                "/",
            ),
            (_, Side::Framework) => ws(start_app(pin, &bins.echo_server)?.0, "/"),
        })
    }

    fn measure(
        self,
        bins: &Binaries,
        settings: &Settings,
        target: &Target,
    ) -> anyhow::Result<Vec<f64>> {
        match self {
            Scenario::IdleMemory | Scenario::DeflateIdle => measure_idle(bins, settings, target),
            Scenario::HttpSend => measure_http(bins, settings, target),
            _ => self.measure_bench(bins, settings, target),
        }
    }

    /// Runs `ws-cli bench --json` against the target and reads the figures off its report.
    fn measure_bench(
        self,
        bins: &Binaries,
        settings: &Settings,
        target: &Target,
    ) -> anyhow::Result<Vec<f64>> {
        let secs = format!("{}", settings.secs);
        let mut args: Vec<String> = vec![
            "bench".into(),
            target.url(),
            "--json".into(),
            "--secs".into(),
            secs,
        ];
        match self {
            Scenario::TextThroughput | Scenario::SeedController | Scenario::Uws => args.extend(
                [
                    "--conns",
                    "50",
                    "--inflight",
                    "16",
                    "--size",
                    "64",
                    "--warmup",
                    "0.5",
                ]
                .map(String::from),
            ),
            Scenario::BinaryThroughput => args.extend(
                [
                    "--conns",
                    "20",
                    "--inflight",
                    "4",
                    "--size",
                    "16384",
                    "--binary",
                    "--warmup",
                    "0.5",
                ]
                .map(String::from),
            ),
            Scenario::Latency => args.extend(
                [
                    "--conns",
                    "1",
                    "--inflight",
                    "1",
                    "--size",
                    "64",
                    "--warmup",
                    "0.5",
                ]
                .map(String::from),
            ),
            Scenario::Handshakes => {
                args.extend(["--handshakes", "--conns", "50"].map(String::from))
            }
            Scenario::Deflate300 | Scenario::Deflate4k => {
                let (conns, inflight, size) = match self {
                    Scenario::Deflate300 => ("50", "16", "300"),
                    _ => ("20", "4", "4096"),
                };
                args.extend(
                    [
                        "--conns",
                        conns,
                        "--inflight",
                        inflight,
                        "--size",
                        size,
                        "--warmup",
                        "0.5",
                    ]
                    .map(String::from),
                );
            }
            Scenario::Fanout => {
                args.truncate(3);
                args.extend([
                    "--fanout".to_string(),
                    settings.fanout_members.to_string(),
                    "--broadcasts".into(),
                    settings.broadcasts.to_string(),
                    "--server-pid".into(),
                    target.server.pid().to_string(),
                ]);
            }
            Scenario::IdleMemory
            | Scenario::HttpSend
            | Scenario::DeflateIdle
            | Scenario::SioAck
            | Scenario::SioRoom
            | Scenario::SioRoomRecovery => bail!(self.not_bench()),
            Scenario::DeflateRefs | Scenario::DeflateRoom | Scenario::DeflateIdleRefs => {
                bail!(self.not_bench())
            }
        }
        let (json, cpu) = run_bench(bins, settings, target, args)?;
        let number = |key: &str| {
            json.get(key)
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0)
        };
        let errors = number("errors");
        if errors > 0.0 {
            bail!(
                "{} against {}: {errors} errors: {json}",
                self.title(),
                target.url()
            );
        }
        Ok(match self {
            Scenario::TextThroughput | Scenario::SeedController | Scenario::Uws => {
                vec![number("msgs_per_sec"), per(cpu, number("messages"), 1e6)]
            }
            Scenario::BinaryThroughput => {
                vec![number("mb_per_sec"), per(cpu, number("bytes"), 1e9)]
            }
            Scenario::Latency => {
                let latency = |q: &str| json["latency_us"][q].as_f64().unwrap_or(0.0);
                vec![latency("p50"), latency("p99")]
            }
            Scenario::Handshakes => vec![
                number("handshakes_per_sec"),
                per(cpu * 1e6, number("handshakes"), 1.0),
            ],
            Scenario::Fanout => {
                let latency = |q: &str| json["last_delivery_us"][q].as_f64().unwrap_or(0.0);
                // Counted by the client around the timed broadcasts: the members' handshakes
                // would otherwise be a third of the server's CPU time.
                vec![
                    latency("p50"),
                    latency("p99"),
                    number("server_cpu_us_per_delivery"),
                ]
            }
            Scenario::Deflate300 | Scenario::Deflate4k => vec![
                number("msgs_per_sec"),
                per(cpu * 1e6, number("messages"), 1.0),
            ],
            Scenario::IdleMemory
            | Scenario::HttpSend
            | Scenario::DeflateIdle
            | Scenario::SioAck
            | Scenario::SioRoom
            | Scenario::SioRoomRecovery => bail!(self.not_bench()),
            Scenario::DeflateRefs | Scenario::DeflateRoom | Scenario::DeflateIdleRefs => {
                bail!(self.not_bench())
            }
        })
    }

    fn not_bench(self) -> String {
        format!(
            "{} is not measured from a `ws-cli bench` report",
            self.title()
        )
    }
}

/// Server memory per idle connection: RSS once settled with N connections open, less RSS once
/// settled before the first, over N. The server must be fresh (see [`Scenario::run`]).
pub(super) fn measure_idle(
    bins: &Binaries,
    settings: &Settings,
    target: &Target,
) -> anyhow::Result<Vec<f64>> {
    let server = &target.server;
    let rss_before = server.settled_rss(SETTLE_TIMEOUT)?;
    let sockets_before = server.socket_count()?;
    // The hold only bounds how long the client outlives a crashed `perf`: it is killed as soon
    // as the reading is taken.
    let hold = (CONNECT_TIMEOUT + SETTLE_TIMEOUT).as_secs().to_string();
    let mut command = settings.pin.command(settings.pin.client_core, &bins.cli);
    command.args([
        "bench",
        &target.url(),
        "--json",
        "--idle",
        &settings.idle_conns.to_string(),
        "--secs",
        &hold,
    ]);
    command.args(&target.extra);
    let mut client = HeldClient::start(command, CONNECT_TIMEOUT)?;
    let established = client.established;
    if established < u64::from(settings.idle_conns) {
        bail!(
            "idle memory against {}: only {established} of {} connections opened ({})",
            target.url(),
            settings.idle_conns,
            client.warnings.join("; ")
        );
    }
    let rss_settled = server.settled_rss(SETTLE_TIMEOUT)?;
    // A reading taken after connections dropped would credit the server with memory it no
    // longer needs for them, so the client must still be holding every one, as seen by both.
    let held = server.socket_count()?.saturating_sub(sockets_before);
    if !client.is_running() || held < established {
        bail!(
            "idle memory against {}: the server held {held} of {established} connections \
             when its memory was read",
            target.url()
        );
    }
    drop(client);
    Ok(vec![
        rss_settled.saturating_sub(rss_before) as f64 / established as f64,
    ])
}

/// Requests/s of wrk against the target's HTTP route, and the server CPU time they took.
fn measure_http(bins: &Binaries, settings: &Settings, target: &Target) -> anyhow::Result<Vec<f64>> {
    let endpoint = target
        .http
        .as_ref()
        .context("the HTTP scenario's target has no HTTP endpoint")?;
    // `/server/send` pushes to a connection; unread, its outbound queue fills and pushes fail
    // with backpressure, so a client stays connected and reading on the load generator's core.
    let mut reader = None;
    let mut query = String::new();
    if endpoint.pushes {
        let hold = (settings.secs + CONNECT_TIMEOUT.as_secs_f64())
            .ceil()
            .to_string();
        let mut command = settings.pin.command(settings.pin.client_core, &bins.cli);
        command.args(["bench-push-reader", &target.url(), "--secs", &hold]);
        reader = Some(HeldClient::start(command, CONNECT_TIMEOUT)?);
        query = format!("?fd={}", newest_fd(endpoint.port)?);
    }
    let url = format!("http://127.0.0.1:{}{}{query}", endpoint.port, endpoint.path);
    let cpu_before = target.server.cpu_seconds();
    let started = Instant::now();
    let (report, output) = run_wrk(settings, &url)?;
    let cpu = target.server.cpu_seconds() - cpu_before;
    let busy = cpu / started.elapsed().as_secs_f64();
    if busy < SATURATED {
        // wrk shares one core (with the push reader on the framework side), so a cheap server
        // can outrun it: then requests/s measure wrk, and only CPU per request compares servers.
        eprintln!(
            "note: the server behind {url} kept its core only {:.0}% busy, so wrk, not the \
             server, capped its requests/s; compare the CPU per request row",
            busy * 100.0
        );
    }
    if let Some(reader) = &mut reader
        && !reader.is_running()
    {
        bail!(
            "the WebSocket client reading {}'s pushes exited during the run",
            url
        );
    }
    if report.non_2xx > 0 || report.socket_errors > 0 {
        bail!(
            "wrk against {url}: {} non-2xx responses, {} socket errors:\n{output}",
            report.non_2xx,
            report.socket_errors
        );
    }
    Ok(vec![
        report.requests_per_sec,
        per(cpu * 1e6, report.requests as f64, 1.0),
    ])
}

/// The most recent connection of a seed app, from its `/server/connections` list: fds are
/// handed out in increasing order and never reused, and nothing else connects to it.
fn newest_fd(http_port: u16) -> anyhow::Result<u64> {
    // The client sees its handshake complete before the server may have listed the connection.
    for _ in 0..100 {
        let body = http_get(http_port, "/server/connections")?;
        let fds: Vec<u64> = serde_json::from_str(&body)
            .with_context(|| format!("/server/connections answered {body:?}"))?;
        if let Some(newest) = fds.into_iter().max() {
            return Ok(newest);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("/server/connections listed no connection")
}

/// The body of a `200 OK` answer to `GET path`.
fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("cannot connect to 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // HTTP/1.0 so the answer is neither chunked nor kept alive: the body is whatever follows
    // the headers until the server closes.
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("GET {path}: malformed answer {response:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("GET {path}: {status}");
    }
    Ok(body.to_owned())
}

/// What the HTTP scenario reads off wrk's report.
#[derive(Debug, Default, PartialEq)]
struct WrkReport {
    requests: u64,
    requests_per_sec: f64,
    non_2xx: u64,
    socket_errors: u64,
}

/// Runs wrk on the load generator's core; returns its figures and its whole output.
fn run_wrk(settings: &Settings, url: &str) -> anyhow::Result<(WrkReport, String)> {
    // wrk takes whole seconds.
    let secs = settings.secs.ceil().max(1.0);
    let mut command = settings
        .pin
        .command(settings.pin.client_core, Path::new(WRK));
    command
        .args(["-t1", "-c50", &format!("-d{secs}s"), "--latency", url])
        .stdin(Stdio::null());
    let output = command.output().context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report =
        parse_wrk(&stdout).with_context(|| format!("wrk printed no figures:\n{stdout}"))?;
    Ok((report, stdout))
}

/// Reads wrk's text report; `None` when the requests/s line is missing.
fn parse_wrk(output: &str) -> Option<WrkReport> {
    let mut report = WrkReport::default();
    let mut seen_rate = false;
    for line in output.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            report.requests_per_sec = rate.trim().parse().ok()?;
            seen_rate = true;
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            report.requests = count.trim().parse().ok()?;
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.non_2xx = count.trim().parse().ok()?;
        } else if let Some(errors) = line.strip_prefix("Socket errors:") {
            // `connect 0, read 0, write 0, timeout 0`
            report.socket_errors = errors
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
        }
    }
    seen_rate.then_some(report)
}

/// Whether wrk can be run.
pub(super) fn wrk_available() -> bool {
    Command::new(WRK)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A framework app (`seed`, `echo-server`) on free ports, watched through its WebSocket port,
/// and the port its `http` server was told to use. Apps without an `http` server ignore that
/// override, so the caller waits for the port only where it expects one.
pub(super) fn start_app(pin: Pinning, binary: &Path) -> anyhow::Result<(Server, u16)> {
    start_app_with(pin, binary, &[])
}

/// [`start_app`] with more environment, e.g. `WS_CONFIG_DIR`.
pub(super) fn start_app_with(
    pin: Pinning,
    binary: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> anyhow::Result<(Server, u16)> {
    let port = free_port()?;
    let http_port = free_port()?;
    let mut command = pin.command(pin.server_core, binary);
    command
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_SERVER_HTTP_PORT", http_port.to_string())
        .env("WS_SERVER_HTTP_HOST", "127.0.0.1")
        .envs(env.iter().copied());
    Ok((Server::start(command, port)?, http_port))
}

/// One of `ws-cli`'s hidden reference servers on a free port.
fn start_baseline(
    pin: Pinning,
    cli: &Path,
    subcommand: &str,
    options: &[&str],
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = pin.command(pin.server_core, cli);
    command.args([subcommand, "--port", &port.to_string()]);
    command.args(options);
    Server::start(command, port)
}

/// uWebSockets.js from the `uws-pack` install in `dir`, on a free port.
fn start_uws(pin: Pinning, dir: &Path) -> anyhow::Result<Server> {
    if !dir.join("node_modules/uws-pack").is_dir() {
        bail!(
            "{} holds no node_modules/uws-pack (npm install --prefix DIR uws-pack)",
            dir.display()
        );
    }
    let script = dir.join("ws-cli-uws-echo.mjs");
    std::fs::write(&script, UWS_ECHO)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let port = free_port()?;
    let mut command = pin.command(pin.server_core, Path::new("node"));
    command.arg(&script).arg(port.to_string());
    Server::start(command, port)
}

/// How the load generator checks the seed's `/` replies: a greeting, then `Recv: <msg>`.
fn seed_root_checks() -> Vec<String> {
    ["--expect-prefix", "Recv: ", "--skip-first", "1"]
        .map(String::from)
        .into()
}

pub(super) fn per(amount: f64, count: f64, unit: f64) -> f64 {
    if count == 0.0 {
        0.0
    } else {
        amount / (count / unit)
    }
}

/// Runs `ws-cli bench` with `args` and the target's own extra ones on the load generator's
/// core: its JSON report, and the server CPU seconds spent meanwhile.
pub(super) fn run_bench(
    bins: &Binaries,
    settings: &Settings,
    target: &Target,
    mut args: Vec<String>,
) -> anyhow::Result<(serde_json::Value, f64)> {
    args.extend(target.extra.iter().cloned());
    let cpu_before = target.server.cpu_seconds();
    let mut command = settings.pin.command(settings.pin.client_core, &bins.cli);
    command
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let json = run_json(command)?;
    Ok((json, target.server.cpu_seconds() - cpu_before))
}

pub(super) fn run_json(mut command: Command) -> anyhow::Result<serde_json::Value> {
    let output = command.output().context("cannot run ws-cli bench")?;
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("ws-cli bench printed no report (exit {})", output.status))
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub(super) fn render_table(rows: &[Row], settings: &Settings) -> String {
    let mut out = String::from(
        "| scenario | metric | reference | framework | ratio | per round |\n|---|---|---:|---:|---:|---|\n",
    );
    for row in rows {
        let better = if row.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        out.push_str(&format!(
            "| {} | {} ({better}) | {}: {} | {}: {} | {:.2}× | {} |\n",
            row.scenario,
            row.metric,
            row.reference_name,
            fmt(row.reference),
            row.framework_name,
            fmt(row.framework),
            row.ratio(),
            row.spread()
        ));
    }
    for row in rows.iter().filter(|row| row.metric == IDLE_METRIC) {
        let gib = |per_conn: f64| per_conn * 1e6 / f64::from(1u32 << 30);
        out.push_str(&format!(
            "\nProjected to 1,000,000 idle connections (server RSS only): {} {:.1} GiB, {} {:.1} GiB.\n",
            row.reference_name,
            gib(row.reference),
            row.framework_name,
            gib(row.framework)
        ));
    }
    out.push_str(&format!(
        "\n{} round(s) of {} s per scenario, medians; servers pinned to core {}, load generator to core {}{}.\n",
        settings.rounds,
        settings.secs,
        settings.pin.server_core,
        settings.pin.client_core,
        if settings.pin.enabled { "" } else { " (not pinned: taskset missing)" }
    ));
    out
}

fn fmt(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.0}", value)
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_the_spread_of_their_rounds() {
        let row = |higher_is_better, round_ratios: Vec<f64>| Row {
            scenario: "s",
            metric: "m",
            reference_name: "r",
            reference: 1.0,
            framework_name: "f",
            framework: 1.0,
            higher_is_better,
            round_ratios,
        };
        assert_eq!(
            row(true, vec![1.1, 0.9, 1.2]).spread(),
            "0.90×–1.20×, better in 2/3"
        );
        assert_eq!(
            row(false, vec![1.1, 0.9, 1.2]).spread(),
            "0.90×–1.20×, better in 1/3"
        );
        assert_eq!(row(true, vec![1.1]).spread(), "");
    }

    #[test]
    fn reads_wrk_report() {
        let output = "Running 3s test @ http://127.0.0.1:1/\n  1 threads and 50 connections\n\
            \x20 Latency Distribution\n     50%  401.00us\n     99%    1.09ms\n\
            \x20 165254 requests in 3.00s, 13.40MB read\n\
            \x20 Non-2xx or 3xx responses: 7\n\
            \x20 Socket errors: connect 0, read 2, write 0, timeout 1\n\
            Requests/sec:  55071.48\nTransfer/sec:      4.47MB\n";
        assert_eq!(
            parse_wrk(output),
            Some(WrkReport {
                requests: 165_254,
                requests_per_sec: 55_071.48,
                non_2xx: 7,
                socket_errors: 3,
            })
        );
    }

    #[test]
    fn clean_wrk_report_has_no_errors() {
        let report = parse_wrk("  10 requests in 1.00s, 1KB read\nRequests/sec: 10.00\n");
        assert_eq!(report.map(|r| (r.non_2xx, r.socket_errors)), Some((0, 0)));
        assert_eq!(parse_wrk("unable to connect to 127.0.0.1:1"), None);
    }
}
