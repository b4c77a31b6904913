//! The benchmark scenarios and the table they produce.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use super::process::{Pinning, Server, free_port};

pub(super) struct Binaries {
    pub(super) cli: PathBuf,
    pub(super) echo_server: PathBuf,
    pub(super) seed: PathBuf,
}

pub(super) struct Settings {
    pub(super) rounds: u32,
    pub(super) secs: f64,
    pub(super) idle_conns: u32,
    pub(super) fanout_members: u32,
    pub(super) broadcasts: u32,
    pub(super) pin: Pinning,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Scenario {
    TextThroughput,
    BinaryThroughput,
    Latency,
    Handshakes,
    SeedController,
    IdleMemory,
    Fanout,
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
}

impl Row {
    fn ratio(&self) -> f64 {
        if self.reference == 0.0 {
            0.0
        } else {
            self.framework / self.reference
        }
    }
}

/// One side of a comparison.
struct Target {
    server: Server,
    path: &'static str,
    extra: Vec<String>,
}

impl Target {
    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.server.port, self.path)
    }
}

impl Scenario {
    pub(super) fn title(self) -> &'static str {
        match self {
            Scenario::TextThroughput => "64 B text echo, 50 conns x 16 in flight",
            Scenario::BinaryThroughput => "16 KiB binary echo, 20 conns x 4 in flight",
            Scenario::Latency => "latency, 1 conn x 1 in flight, 64 B",
            Scenario::Handshakes => "handshakes, 50 workers",
            Scenario::SeedController => "seed controller `/` (Recv: prefix) vs `/echo`",
            Scenario::IdleMemory => "idle connections, server RSS",
            Scenario::Fanout => "room broadcast, time to the last member",
        }
    }

    pub(super) fn run(self, bins: &Binaries, settings: &Settings) -> anyhow::Result<Vec<Row>> {
        let (reference, framework) = self.targets(bins, settings)?;
        let (ref_name, fw_name) = match self {
            Scenario::SeedController => ("seed /echo", "seed /"),
            Scenario::Fanout => ("tokio broadcast channel", "seed /room"),
            _ => ("tokio-tungstenite", "echo-server"),
        };
        let mut samples: Vec<[Vec<f64>; 2]> = Vec::new();
        for _ in 0..settings.rounds {
            for (side, target) in [&reference, &framework].into_iter().enumerate() {
                let figures = self.measure(bins, settings, target)?;
                if samples.len() < figures.len() {
                    samples.resize_with(figures.len(), Default::default);
                }
                for (i, value) in figures.into_iter().enumerate() {
                    samples[i][side].push(value);
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
                reference: median(r),
                framework_name: fw_name,
                framework: median(f),
                higher_is_better: *higher_is_better,
            })
            .collect())
    }

    fn metrics(self) -> &'static [(&'static str, bool)] {
        match self {
            Scenario::TextThroughput => &[
                ("messages/s", true),
                ("server CPU s per million messages", false),
            ],
            Scenario::BinaryThroughput => &[("MB/s", true), ("server CPU s per GB", false)],
            Scenario::Latency => &[("p50 µs", false), ("p99 µs", false)],
            Scenario::Handshakes => &[
                ("handshakes/s", true),
                ("server CPU µs per handshake", false),
            ],
            Scenario::SeedController => &[("messages/s", true)],
            Scenario::IdleMemory => &[("server RSS bytes per idle connection", false)],
            Scenario::Fanout => &[
                ("p50 µs to last delivery", false),
                ("p99 µs to last delivery", false),
            ],
        }
    }

    fn targets(self, bins: &Binaries, settings: &Settings) -> anyhow::Result<(Target, Target)> {
        let pin = settings.pin;
        let target = |server, path| Target {
            server,
            path,
            extra: Vec::new(),
        };
        Ok(match self {
            // Each side gets its own seed process, so neither route shares a core's work with
            // the other.
            Scenario::SeedController => (
                target(start_app(pin, &bins.seed)?, "/echo"),
                Target {
                    extra: ["--expect-prefix", "Recv: ", "--skip-first", "1"]
                        .map(String::from)
                        .into(),
                    ..target(start_app(pin, &bins.seed)?, "/")
                },
            ),
            Scenario::Fanout => (
                target(
                    start_baseline(pin, &bins.cli, "bench-baseline-fanout-server")?,
                    "/",
                ),
                target(start_app(pin, &bins.seed)?, "/room?name=bench"),
            ),
            _ => (
                target(
                    start_baseline(pin, &bins.cli, "bench-baseline-server")?,
                    "/",
                ),
                target(start_app(pin, &bins.echo_server)?, "/"),
            ),
        })
    }

    fn measure(
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
            Scenario::TextThroughput | Scenario::SeedController => args.extend(
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
            Scenario::Fanout => {
                args.truncate(3);
                args.extend([
                    "--fanout".to_string(),
                    settings.fanout_members.to_string(),
                    "--broadcasts".into(),
                    settings.broadcasts.to_string(),
                ]);
            }
            Scenario::IdleMemory => {
                args.truncate(3);
                args.extend([
                    "--idle".to_string(),
                    settings.idle_conns.to_string(),
                    "--secs".into(),
                    "3".into(),
                ]);
            }
        }
        args.extend(target.extra.iter().cloned());
        let cpu_before = target.server.cpu_seconds();
        let rss_before = target.server.rss_bytes();
        let mut command = settings.pin.command(settings.pin.client_core, &bins.cli);
        command
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let report = if let Scenario::IdleMemory = self {
            run_sampling_rss(command, &target.server)?
        } else {
            (run_json(command)?, 0)
        };
        let (json, rss_peak) = report;
        let cpu = target.server.cpu_seconds() - cpu_before;
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
            Scenario::TextThroughput => {
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
            Scenario::SeedController => vec![number("msgs_per_sec")],
            Scenario::Fanout => {
                let latency = |q: &str| json["last_delivery_us"][q].as_f64().unwrap_or(0.0);
                vec![latency("p50"), latency("p99")]
            }
            Scenario::IdleMemory => {
                let established = number("established").max(1.0);
                vec![(rss_peak.saturating_sub(rss_before)) as f64 / established]
            }
        })
    }
}

/// A framework app (`seed`, `echo-server`) on free ports; the HTTP override is ignored by apps
/// without an `http` server.
fn start_app(pin: Pinning, binary: &std::path::Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = pin.command(pin.server_core, binary);
    command
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_SERVER_HTTP_PORT", free_port()?.to_string())
        .env("WS_SERVER_HTTP_HOST", "127.0.0.1");
    Server::start(command, port)
}

/// One of `ws-cli`'s hidden reference servers on a free port.
fn start_baseline(pin: Pinning, cli: &std::path::Path, subcommand: &str) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = pin.command(pin.server_core, cli);
    command.args([subcommand, "--port", &port.to_string()]);
    Server::start(command, port)
}

fn per(amount: f64, count: f64, unit: f64) -> f64 {
    if count == 0.0 {
        0.0
    } else {
        amount / (count / unit)
    }
}

fn run_json(mut command: Command) -> anyhow::Result<serde_json::Value> {
    let output = command.output().context("cannot run ws-cli bench")?;
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("ws-cli bench printed no report (exit {})", output.status))
}

/// Runs the idle bench while sampling the server's RSS; returns the report and the peak RSS.
fn run_sampling_rss(
    mut command: Command,
    server: &Server,
) -> anyhow::Result<(serde_json::Value, u64)> {
    let mut child = command.spawn().context("cannot run ws-cli bench")?;
    let mut peak = 0;
    loop {
        peak = peak.max(server.rss_bytes());
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output()?;
    let json =
        serde_json::from_slice(&output.stdout).context("ws-cli bench --idle printed no report")?;
    Ok((json, peak))
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub(super) fn render_table(rows: &[Row], settings: &Settings) -> String {
    let mut out = String::from(
        "| scenario | metric | reference | framework | ratio |\n|---|---|---:|---:|---:|\n",
    );
    for row in rows {
        let better = if row.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        out.push_str(&format!(
            "| {} | {} ({better}) | {}: {} | {}: {} | {:.2}× |\n",
            row.scenario,
            row.metric,
            row.reference_name,
            fmt(row.reference),
            row.framework_name,
            fmt(row.framework),
            row.ratio()
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
