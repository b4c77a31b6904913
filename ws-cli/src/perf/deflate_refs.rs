//! `deflate-refs`, `deflate-room`, `deflate-idle-refs`: permessage-deflate on the framework
//! against the framework uncompressed and against Node `ws` and Python `websockets` with
//! deflate on, in one run, on chat-like JSON (`ws-cli bench --payload chat`).
//!
//! More than two servers per row, so these scenarios print a table of their own. Node and
//! Python come from `--deflate-refs-dir` (set up by `scripts/perf-deflate.sh`); one that is
//! missing is skipped with a loud note, or fails the run under CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::process::{Pinning, Server, free_port};
use super::scenario::{
    Binaries, Scenario, Settings, Target, measure_idle, median, per, run_bench, start_app,
};

/// The Node reference's script, next to `node_modules/ws` in the refs folder.
const NODE_SCRIPT: &str = "ws-deflate-echo.cjs";
/// The Python reference's script, next to `venv/` in the refs folder.
const PYTHON_SCRIPT: &str = "websockets-deflate-echo.py";

/// Members of the room scenario: a busy chat room, as the issue measures it.
const ROOM_MEMBERS: u32 = 1_000;

/// One server of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    FrameworkPlain,
    FrameworkDeflate,
    Node,
    Python,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::FrameworkPlain => "framework, uncompressed",
            Side::FrameworkDeflate => "framework, deflate",
            Side::Node => "Node ws 8, deflate",
            Side::Python => "Python websockets, deflate",
        }
    }
}

/// How to start the references found in `--deflate-refs-dir`.
#[derive(Debug, Clone, Default)]
pub(super) struct References {
    node: Option<PathBuf>,
    /// The interpreter and the script.
    python: Option<(PathBuf, PathBuf)>,
}

impl References {
    /// The references `dir` holds; what is missing is reported on stderr (an error under CI).
    pub(super) fn find(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut found = Self::default();
        let mut missing = Vec::new();
        match dir {
            None => missing.push(
                "Node ws and Python websockets (no --deflate-refs-dir; scripts/perf-deflate.sh sets one up)"
                    .to_string(),
            ),
            Some(dir) => {
                let script = dir.join(NODE_SCRIPT);
                if script.is_file() && dir.join("node_modules/ws").is_dir() && on_path("node") {
                    found.node = Some(script);
                } else {
                    missing.push(format!("Node ws ({} or node_modules/ws in {}, or node)", NODE_SCRIPT, dir.display()));
                }
                let script = dir.join(PYTHON_SCRIPT);
                let venv = dir.join("venv/bin/python");
                if script.is_file() && venv.is_file() {
                    found.python = Some((venv, script));
                } else {
                    missing.push(format!("Python websockets ({PYTHON_SCRIPT} or venv/ in {})", dir.display()));
                }
            }
        }
        if !missing.is_empty() {
            if crate::ci::in_ci() {
                bail!("deflate references missing: {}", missing.join("; "));
            }
            eprintln!(
                "\n!!! NOTE: references SKIPPED, not found: {}. Run scripts/perf-deflate.sh to measure them. !!!\n",
                missing.join("; ")
            );
        }
        Ok(found)
    }
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// One line of the table: a metric across every side measured.
#[derive(Debug, serde::Serialize)]
pub(super) struct RefRow {
    scenario: String,
    metric: &'static str,
    /// Side name and median.
    values: Vec<(&'static str, f64)>,
}

/// Runs one of the three scenarios.
pub(super) fn run(
    scenario: Scenario,
    bins: &Binaries,
    refs: &References,
    settings: &Settings,
) -> anyhow::Result<Vec<RefRow>> {
    let mut sides = vec![Side::FrameworkPlain, Side::FrameworkDeflate];
    if refs.node.is_some() {
        sides.push(Side::Node);
    }
    if refs.python.is_some() {
        sides.push(Side::Python);
    }
    let jobs: Vec<(String, &'static [&'static str], Load)> = match scenario {
        Scenario::DeflateRefs => vec![
            (
                "chat JSON echo, 300 B, 50 conns x 16 in flight".into(),
                ECHO_METRICS,
                Load::Echo {
                    size: 300,
                    conns: 50,
                    inflight: 16,
                },
            ),
            (
                "JSON document echo, 4 KiB, 20 conns x 4 in flight".into(),
                ECHO_METRICS,
                Load::Echo {
                    size: 4096,
                    conns: 20,
                    inflight: 4,
                },
            ),
        ],
        Scenario::DeflateRoom => vec![(
            format!("room broadcast of 300 B chat JSON to {ROOM_MEMBERS} members"),
            ROOM_METRICS,
            Load::Room { size: 300 },
        )],
        _ => vec![(
            format!("{} idle connections", settings.idle_conns),
            IDLE_METRICS,
            Load::Idle,
        )],
    };
    let mut rows = Vec::new();
    for (title, metrics, load) in jobs {
        // samples[side][metric] over rounds
        let mut samples = vec![vec![Vec::new(); metrics.len()]; sides.len()];
        for _ in 0..settings.rounds {
            for (index, side) in sides.iter().enumerate() {
                let target = start(*side, load, bins, refs, settings.pin)?;
                let figures = measure(load, bins, settings, &target)?;
                for (metric, value) in figures.into_iter().enumerate() {
                    samples[index][metric].push(value);
                }
            }
        }
        for (metric_index, metric) in metrics.iter().enumerate() {
            rows.push(RefRow {
                scenario: title.clone(),
                metric,
                values: sides
                    .iter()
                    .zip(&samples)
                    .map(|(side, per_metric)| {
                        (side.name(), median(per_metric[metric_index].clone()))
                    })
                    .collect(),
            });
        }
    }
    Ok(rows)
}

const ECHO_METRICS: &[&str] = &[
    "messages/s",
    "server CPU µs per message",
    "bytes on the wire per echo",
];
const ROOM_METRICS: &[&str] = &[
    "p50 µs to last delivery",
    "server CPU µs per delivery",
    "bytes on the wire per delivery",
];
const IDLE_METRICS: &[&str] = &["server RSS bytes per idle connection"];

#[derive(Debug, Clone, Copy)]
enum Load {
    Echo {
        size: u32,
        conns: u32,
        inflight: u32,
    },
    Room {
        size: u32,
    },
    Idle,
}

/// A fresh server of `side` for `load`: fresh for every round, so an idle reading starts from
/// a server that has held nothing and the interleaving is the same for every load.
fn start(
    side: Side,
    load: Load,
    bins: &Binaries,
    refs: &References,
    pin: Pinning,
) -> anyhow::Result<Target> {
    let room = matches!(load, Load::Room { .. });
    let deflate = vec!["--deflate".to_string()];
    let (server, path, extra) = match side {
        Side::FrameworkPlain | Side::FrameworkDeflate => {
            let app = if room { &bins.seed } else { &bins.echo_server };
            let path = if room { "/room?name=bench" } else { "/" };
            let extra = if side == Side::FrameworkDeflate {
                deflate
            } else {
                Vec::new()
            };
            (start_app(pin, app)?.0, path, extra)
        }
        Side::Node => {
            let script = refs.node.as_deref().context("Node ws is not set up")?;
            let port = free_port()?;
            let mut command = pin.command(pin.server_core, Path::new("node"));
            command.arg(script).arg(port.to_string());
            (
                Server::start(command, port)?,
                if room { "/room" } else { "/" },
                deflate,
            )
        }
        Side::Python => {
            let (python, script) = refs
                .python
                .as_ref()
                .context("Python websockets is not set up")?;
            let port = free_port()?;
            let mut command = pin.command(pin.server_core, python);
            command.arg(script).arg(port.to_string());
            (
                Server::start(command, port)?,
                if room { "/room" } else { "/" },
                deflate,
            )
        }
    };
    Ok(Target {
        server,
        path,
        extra,
        http: None,
    })
}

/// The figures of [`ECHO_METRICS`], [`ROOM_METRICS`] or [`IDLE_METRICS`] for one run.
fn measure(
    load: Load,
    bins: &Binaries,
    settings: &Settings,
    target: &Target,
) -> anyhow::Result<Vec<f64>> {
    let mut args: Vec<String> = vec!["bench".into(), target.url(), "--json".into()];
    match load {
        Load::Idle => return measure_idle(bins, settings, target),
        Load::Echo {
            size,
            conns,
            inflight,
        } => args.extend([
            "--secs".into(),
            settings.secs.to_string(),
            "--warmup".into(),
            "0.5".into(),
            "--conns".into(),
            conns.to_string(),
            "--inflight".into(),
            inflight.to_string(),
            "--size".into(),
            size.to_string(),
            "--payload".into(),
            "chat".into(),
        ]),
        Load::Room { size } => args.extend([
            "--fanout".into(),
            ROOM_MEMBERS.to_string(),
            "--broadcasts".into(),
            settings.broadcasts.to_string(),
            "--server-pid".into(),
            target.server.pid().to_string(),
            "--size".into(),
            size.to_string(),
            "--payload".into(),
            "chat".into(),
        ]),
    }
    let (json, cpu) = run_bench(bins, settings, target, args)?;
    let number = |key: &str| {
        json.get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    if number("errors") > 0.0 {
        bail!(
            "{} against {}: errors: {json}",
            Scenario::DeflateRefs.title(),
            target.url()
        );
    }
    Ok(match load {
        Load::Echo { .. } => vec![
            number("msgs_per_sec"),
            per(cpu, number("messages"), 1e6),
            number("wire_bytes_per_echo"),
        ],
        _ => vec![
            json["last_delivery_us"]["p50"].as_f64().unwrap_or(0.0),
            number("server_cpu_us_per_delivery"),
            number("wire_bytes_per_delivery"),
        ],
    })
}

/// The rows as a table: a column per side, and the framework's deflate figure over Node's.
pub(super) fn render(rows: &[RefRow]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let names: Vec<&str> = first.values.iter().map(|(name, _)| *name).collect();
    let mut out = format!(
        "| scenario | metric | {} | deflate: framework / Node |\n|---|---|",
        names.join(" | ")
    );
    out.push_str(&"---:|".repeat(names.len() + 1));
    out.push('\n');
    for row in rows {
        let value = |side: Side| {
            row.values
                .iter()
                .find(|(name, _)| *name == side.name())
                .map(|(_, value)| *value)
        };
        let versus_node = match (value(Side::FrameworkDeflate), value(Side::Node)) {
            (Some(framework), Some(node)) if node > 0.0 => format!("{:.3}×", framework / node),
            _ => "–".into(),
        };
        let figures: Vec<String> = row
            .values
            .iter()
            .map(|(_, value)| format!("{value:.2}"))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {versus_node} |\n",
            row.scenario,
            row.metric,
            figures.join(" | ")
        ));
    }
    out
}
