//! `ws-cli perf`: the framework against a plain tokio-tungstenite echo server, in one run.
//!
//! Every scenario runs against both servers in interleaved rounds (so drift on a noisy machine
//! hits both alike), the servers pinned to one core and the load generator to another. The
//! load generator is `ws-cli bench` itself, run as a child process, so each measurement is the
//! same program a user would run by hand; the HTTP scenario uses wrk. Server CPU time comes
//! from `/proc/<pid>/stat`, memory from `/proc/<pid>/status`.

mod deflate_refs;
pub(crate) mod process;
mod scenario;
mod sio_recovery;
mod socketio;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use self::scenario::{Row, Scenario};

/// Descriptors a process of the idle scenario needs besides its connections (stdio, listeners,
/// the runtime's epoll and wakers).
const IDLE_SPARE_FDS: u64 = 64;

#[derive(Debug, Args)]
pub(crate) struct PerfArgs {
    /// Rounds per scenario; figures are medians over rounds
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds per measured run
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// A short smoke run for CI: one round of one second, no memory scenario
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios, comma-separated (e.g. `--only idle,http`); an explicitly named
    /// scenario runs even where --quick would skip it, and `uws` runs only when named
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SCENARIO")]
    only: Vec<Scenario>,
    /// Idle connections for the memory scenario (each process may hold at most ~20,000 descriptors here)
    #[arg(long, default_value_t = 19_000)]
    idle_conns: u32,
    /// Room members for the broadcast scenario
    #[arg(long, default_value_t = 10_000)]
    fanout_members: u32,
    /// Broadcasts timed in the broadcast scenario
    #[arg(long, default_value_t = 100)]
    broadcasts: u32,
    /// Core the servers are pinned to
    #[arg(long, default_value_t = 0)]
    server_core: u32,
    /// Core the load generator is pinned to
    #[arg(long, default_value_t = 1)]
    client_core: u32,
    /// The framework's echo server binary (default: `echo-server` next to this binary)
    #[arg(long)]
    echo_server: Option<PathBuf>,
    /// The seed example binary (default: `seed` next to this binary)
    #[arg(long)]
    seed: Option<PathBuf>,
    /// A folder where `npm install uws-pack` was run: the `uws` scenario (only run when named
    /// with --only) measures uWebSockets.js from it; `scripts/perf-uws.sh` sets it up
    #[arg(long, value_name = "DIR")]
    uws_dir: Option<PathBuf>,
    /// A folder holding `node_modules/socket.io` (4.8) and `socketio-node.js`: the Node
    /// reference of the `sio-ack` and `sio-room` scenarios (only run when named with --only);
    /// `scripts/perf-socketio.sh` sets it up
    #[arg(long, value_name = "DIR")]
    sio_node_dir: Option<PathBuf>,
    /// The socketioxide reference server of the same scenarios (`scripts/perf/socketioxide`,
    /// built by `scripts/perf-socketio.sh`)
    #[arg(long, value_name = "PATH")]
    socketioxide: Option<PathBuf>,
    /// Room members of the `sio-room` and `sio-room-recovery` scenarios
    #[arg(long, default_value_t = 1_000)]
    sio_room_members: u32,
    /// A Redis URL (e.g. redis://127.0.0.1:6379): `sio-room-recovery` also measures the room
    /// load on a Redis cluster, recovery off and on with the Redis store
    #[arg(long, value_name = "URL")]
    sio_recovery_redis: Option<String>,
    /// A folder set up by `scripts/perf-deflate.sh` (Node `ws` 8 in node_modules, Python
    /// `websockets` in venv/, the two echo servers of scripts/perf/): the references of the
    /// deflate-refs, deflate-room and deflate-idle-refs scenarios (only run when named)
    #[arg(long, value_name = "DIR")]
    deflate_refs_dir: Option<PathBuf>,
    /// Print the table as JSON too
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(mut args: PerfArgs) -> anyhow::Result<ExitCode> {
    if args.quick {
        args.rounds = 1;
        args.secs = 1.0;
        args.fanout_members = args.fanout_members.min(1_000);
        args.broadcasts = args.broadcasts.min(20);
        args.sio_room_members = args.sio_room_members.min(200);
    }
    if args.rounds == 0 || args.secs <= 0.0 {
        bail!("--rounds and --secs must be positive");
    }
    let me = std::env::current_exe().context("cannot find this binary")?;
    let sibling = |name: &str, given: &Option<PathBuf>| -> anyhow::Result<PathBuf> {
        let path = given.clone().unwrap_or_else(|| me.with_file_name(name));
        if !path.exists() {
            bail!(
                "{} not found; build it first: cargo build --release -p {name} (or pass --{name} PATH)",
                path.display()
            );
        }
        Ok(path)
    };
    let binaries = scenario::Binaries {
        cli: me.clone(),
        echo_server: sibling("echo-server", &args.echo_server)?,
        seed: sibling("seed", &args.seed)?,
        uws: args.uws_dir.clone(),
        socketio: socketio::References {
            node_dir: args.sio_node_dir.clone(),
            socketioxide: args.socketioxide.clone(),
        },
    };
    let mut scenarios: Vec<Scenario> = if args.only.is_empty() {
        Scenario::ALL
            .into_iter()
            .filter(|scenario| !(args.quick && *scenario == Scenario::IdleMemory))
            .collect()
    } else {
        let mut chosen = Vec::new();
        for scenario in &args.only {
            if !chosen.contains(scenario) {
                chosen.push(*scenario);
            }
        }
        chosen
    };
    if scenarios.contains(&Scenario::HttpSend) && !scenario::wrk_available() {
        if crate::ci::in_ci() {
            bail!(
                "`{}` not found; CI must run the HTTP scenario (apt-get install wrk)",
                scenario::WRK
            );
        }
        eprintln!(
            "\n!!! NOTE: `{}` not found, so the HTTP scenario is SKIPPED. \
             Install it (Debian: apt-get install wrk) to measure it. !!!\n",
            scenario::WRK
        );
        scenarios.retain(|scenario| *scenario != Scenario::HttpSend);
    }
    // Children inherit the limit, which is how the framework's servers get enough descriptors
    // for the idle scenario: they do not raise their own.
    let open_files = crate::bench::raise_open_files_limit();
    if scenarios.contains(&Scenario::IdleMemory)
        && let Some(limit) = open_files
        && u64::from(args.idle_conns) + IDLE_SPARE_FDS > limit
    {
        bail!(
            "--idle-conns {} needs about {} descriptors per process, above the limit of {limit} \
             (ulimit -Hn); lower --idle-conns",
            args.idle_conns,
            u64::from(args.idle_conns) + IDLE_SPARE_FDS
        );
    }
    let pin = process::Pinning::detect(args.server_core, args.client_core);
    if !pin.enabled {
        eprintln!("note: `taskset` not found; servers and load generator are not pinned");
    }
    let settings = scenario::Settings {
        rounds: args.rounds,
        secs: args.secs,
        idle_conns: args.idle_conns,
        fanout_members: args.fanout_members,
        broadcasts: args.broadcasts,
        sio_room_members: args.sio_room_members,
        sio_recovery_redis: args.sio_recovery_redis.clone(),
        pin,
    };
    let references = match scenarios.iter().any(|s| s.against_references()) {
        true => deflate_refs::References::find(args.deflate_refs_dir.as_deref())?,
        false => deflate_refs::References::default(),
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut reference_rows = Vec::new();
    for scenario in scenarios {
        eprintln!("running {} ...", scenario.title());
        if scenario.against_references() {
            reference_rows.extend(deflate_refs::run(
                scenario,
                &binaries,
                &references,
                &settings,
            )?);
        } else {
            rows.extend(scenario.run(&binaries, &settings)?);
        }
    }
    if !rows.is_empty() || reference_rows.is_empty() {
        println!("{}", scenario::render_table(&rows, &settings));
    }
    if !reference_rows.is_empty() {
        println!("{}", deflate_refs::render(&reference_rows));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        println!("{}", serde_json::to_string_pretty(&reference_rows)?);
    }
    Ok(ExitCode::SUCCESS)
}
