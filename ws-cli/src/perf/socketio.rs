//! The Socket.IO scenarios: acked events and room emits, the seed's Socket.IO namespace against
//! Node's `socket.io` 4.8 and socketioxide answering the same events, in one run.
//!
//! The load is `ws-cli bench-socketio` (a Rust client framing its own sockets: a JavaScript
//! client would be the limit, not the servers), pinned to the load core; every server is pinned
//! to the server core. Each round measures every server present, back to back, and each
//! reference gets its own ratio rows. A reference whose tool is missing is left out with a loud
//! note (`scripts/perf-socketio.sh` sets both up); under CI it is an error.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};

use super::process::{Server, free_port};
use super::scenario::{Binaries, Row, Scenario, Settings, median, ratio};

/// The Node reference's script, which `scripts/perf-socketio.sh` copies next to the
/// `socket.io` install so that node resolves the package from there.
pub(super) const NODE_SCRIPT: &str = "socketio-node.js";

/// Where the references come from.
#[derive(Debug, Clone, Default)]
pub(super) struct References {
    /// A folder holding `node_modules/socket.io` and [`NODE_SCRIPT`].
    pub(super) node_dir: Option<PathBuf>,
    /// The socketioxide reference server's binary (`scripts/perf/socketioxide`).
    pub(super) socketioxide: Option<PathBuf>,
}

/// One server of a Socket.IO comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Node,
    Socketioxide,
    Framework,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Node => "Node socket.io 4.8",
            Side::Socketioxide => "socketioxide 0.18",
            Side::Framework => "seed (Socket.IO)",
        }
    }
}

/// The sides to measure: the references whose tools are there, then the framework.
fn sides(refs: &References) -> anyhow::Result<Vec<Side>> {
    let mut sides = Vec::new();
    let mut missing = Vec::new();
    match &refs.node_dir {
        Some(dir)
            if dir.join("node_modules/socket.io").is_dir() && dir.join(NODE_SCRIPT).is_file() =>
        {
            sides.push(Side::Node)
        }
        Some(dir) => missing.push(format!(
            "{} holds no node_modules/socket.io and {NODE_SCRIPT}",
            dir.display()
        )),
        None => missing.push("no --sio-node-dir".to_owned()),
    }
    match &refs.socketioxide {
        Some(binary) if binary.is_file() => sides.push(Side::Socketioxide),
        Some(binary) => missing.push(format!("{} does not exist", binary.display())),
        None => missing.push("no --socketioxide".to_owned()),
    }
    if !missing.is_empty() {
        let note = format!(
            "Socket.IO references left out ({}); scripts/perf-socketio.sh sets them up",
            missing.join("; ")
        );
        if crate::ci::in_ci() {
            bail!("{note}");
        }
        eprintln!("\n!!! NOTE: {note}. !!!\n");
    }
    if sides.is_empty() {
        bail!(
            "the Socket.IO scenarios need at least one reference: {}",
            missing.join("; ")
        );
    }
    sides.push(Side::Framework);
    Ok(sides)
}

pub(super) fn run(
    scenario: Scenario,
    bins: &Binaries,
    settings: &Settings,
) -> anyhow::Result<Vec<Row>> {
    let sides = sides(&bins.socketio)?;
    let servers = sides
        .iter()
        .map(|side| start(*side, bins, settings))
        .collect::<anyhow::Result<Vec<Server>>>()?;
    // samples[side][metric][round]
    let mut samples = vec![[Vec::new(), Vec::new()]; sides.len()];
    for _ in 0..settings.rounds {
        for (index, server) in servers.iter().enumerate() {
            let [rate, cpu] = measure(scenario, bins, settings, server, settings.sio_room_members)?;
            samples[index][0].push(rate);
            samples[index][1].push(cpu);
        }
    }
    let framework = samples.pop().context("the framework's samples")?;
    let metrics = match scenario {
        Scenario::SioRoom => [
            ("deliveries/s", true),
            ("server CPU µs per delivery", false),
        ],
        _ => [
            ("acked events/s", true),
            ("server CPU µs per event + ack", false),
        ],
    };
    let mut rows = Vec::new();
    for (side, reference) in sides.iter().zip(samples) {
        for (metric_index, (metric, higher_is_better)) in metrics.into_iter().enumerate() {
            let (r, f) = (&reference[metric_index], &framework[metric_index]);
            rows.push(Row {
                scenario: scenario.title(),
                metric,
                reference_name: side.name(),
                round_ratios: f.iter().zip(r).map(|(f, r)| ratio(*f, *r)).collect(),
                reference: median(r.clone()),
                framework_name: Side::Framework.name(),
                framework: median(f.clone()),
                higher_is_better,
            });
        }
    }
    Ok(rows)
}

/// Starts one side's server on a free port.
fn start(side: Side, bins: &Binaries, settings: &Settings) -> anyhow::Result<Server> {
    let pin = settings.pin;
    match side {
        Side::Framework => super::sio_recovery::start_plain_seed(bins, settings),
        Side::Node => {
            let dir = bins
                .socketio
                .node_dir
                .as_deref()
                .context("the Node reference needs --sio-node-dir")?;
            let port = free_port()?;
            let mut command = pin.command(pin.server_core, Path::new("node"));
            command.arg(dir.join(NODE_SCRIPT)).arg(port.to_string());
            Server::start(command, port)
        }
        Side::Socketioxide => {
            let binary = bins
                .socketio
                .socketioxide
                .as_deref()
                .context("the socketioxide reference needs --socketioxide")?;
            let port = free_port()?;
            let mut command = pin.command(pin.server_core, binary);
            command.arg(port.to_string());
            Server::start(command, port)
        }
    }
}

/// One `ws-cli bench-socketio` run against `server`: the rate, and the server's CPU µs per
/// acked event or per delivery over the measured seconds; a room load has `room_members`.
pub(super) fn measure(
    scenario: Scenario,
    bins: &Binaries,
    settings: &Settings,
    server: &Server,
    room_members: u32,
) -> anyhow::Result<[f64; 2]> {
    let url = format!("ws://127.0.0.1:{}", server.port);
    let mut command = settings.pin.command(settings.pin.client_core, &bins.cli);
    command.args([
        "bench-socketio",
        &url,
        "--secs",
        &settings.secs.to_string(),
        "--server-pid",
        &server.pid().to_string(),
    ]);
    match scenario {
        Scenario::SioRoom | Scenario::SioRoomRecovery => command.args([
            "--room-members",
            &room_members.to_string(),
            "--inflight",
            "16",
        ]),
        _ => command.args(["--conns", "50", "--inflight", "16", "--size", "32"]),
    };
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run ws-cli bench-socketio")?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "ws-cli bench-socketio against {url} printed no report ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    let number = |key: &str| json.get(key).and_then(serde_json::Value::as_f64);
    if number("errors").unwrap_or(0.0) > 0.0 {
        bail!("{} against {url}: {json}", scenario.title());
    }
    Ok([
        number("per_sec").unwrap_or(0.0),
        number("server_cpu_us_per_count").unwrap_or(0.0),
    ])
}
