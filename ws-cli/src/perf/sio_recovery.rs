//! `sio-room-recovery`: what Socket.IO connection state recovery costs the room load, the seed
//! with recovery off and on in the same run.
//!
//! Recovery appends every emit of a recovering namespace to the store's stream before it goes
//! out, and adds the offset to every packet, so its cost is per emit and shows on the hot path
//! of room emits. The seed's own `config/server.toml` turns it on for `/`; here each server gets
//! a config written for it (`WS_CONFIG_DIR`), identical but for the recovery section, so the
//! pair differs in that alone. With a Redis URL the pair is measured again on a Redis cluster:
//! a cluster room emit already goes through Redis, and comparing a Redis store with an
//! in-process cluster would charge recovery with the cluster's cost too.

use std::path::PathBuf;

use anyhow::Context;

use super::process::Server;
use super::scenario::{Binaries, Row, Scenario, Settings, median, ratio, start_app_with};

/// The small room's members.
const SMALL_ROOM: u32 = 10;

/// The seed's `server.toml` for the perf runs: its `ws` and `http` servers (ports and hosts come
/// from the environment), Socket.IO on, recovery as asked.
fn server_toml(cluster_url: &str, prefix: &str, recovery: bool) -> String {
    let recovery = match recovery {
        true => "\n[servers.settings.socketio.recovery]\nnamespaces = [\"/\"]\n",
        false => "",
    };
    format!(
        "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nhost = \"127.0.0.1\"\nport = 9502\n\n\
         [servers.settings.socketio]\nenabled = true\n{recovery}\n\
         [[servers]]\nname = \"http\"\ntype = \"http\"\nhost = \"127.0.0.1\"\nport = 9501\n\n\
         [cluster]\nurl = \"{cluster_url}\"\nprefix = \"{prefix}\"\n"
    )
}

/// A config folder written for one seed run, removed on drop.
pub(super) struct SeedConfig {
    dir: PathBuf,
}

impl SeedConfig {
    pub(super) fn write(label: &str, cluster_url: &str, recovery: bool) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("ws-cli-perf-{}-{label}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // One prefix for every run, not one per run: a Redis stream left behind is reused (and
        // trimmed) by the next run instead of piling up.
        let toml = server_toml(cluster_url, "ws-cli-perf-sio", recovery);
        std::fs::write(dir.join("server.toml"), toml)
            .with_context(|| format!("cannot write {}/server.toml", dir.display()))?;
        Ok(Self { dir })
    }

    /// The seed on free ports with this config.
    pub(super) fn start(&self, bins: &Binaries, settings: &Settings) -> anyhow::Result<Server> {
        let env = [("WS_CONFIG_DIR", self.dir.as_os_str())];
        let started = start_app_with(settings.pin, &bins.seed, &env);
        let (server, _) = started.with_context(|| {
            format!(
                "the seed with {}/server.toml did not start",
                self.dir.display()
            )
        })?;
        Ok(server)
    }
}

impl Drop for SeedConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The seed as the other Socket.IO scenarios measure it: recovery off, as the references run.
pub(super) fn start_plain_seed(bins: &Binaries, settings: &Settings) -> anyhow::Result<Server> {
    let config = SeedConfig::write("sio-plain", "memory://", false)?;
    // The seed reads its config once, at start.
    config.start(bins, settings)
}

/// One off/on pair: the names of its two servers and their cluster.
struct Pair {
    cluster_url: String,
    off: &'static str,
    on: &'static str,
}

pub(super) fn run(bins: &Binaries, settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let mut pairs = vec![Pair {
        cluster_url: "memory://".into(),
        off: "seed, recovery off",
        on: "seed, recovery on (memory store)",
    }];
    if let Some(url) = &settings.sio_recovery_redis {
        pairs.push(Pair {
            cluster_url: url.clone(),
            off: "seed, Redis cluster, recovery off",
            on: "seed, Redis cluster, recovery on (Redis store)",
        });
    }
    let mut servers = Vec::new();
    for (index, pair) in pairs.iter().enumerate() {
        for recovery in [false, true] {
            let label = format!("recovery-{index}-{recovery}");
            let config = SeedConfig::write(&label, &pair.cluster_url, recovery)?;
            servers.push(config.start(bins, settings)?);
        }
    }
    // Recovery costs once per emit (the append) and a few bytes per delivery (the offset): in a
    // large room the deliveries hide the append, in a small one it shows.
    let rooms = [
        (
            settings.sio_room_members,
            "room emits/s, --sio-room-members members",
            "server CPU µs per room emit, --sio-room-members members",
        ),
        (
            SMALL_ROOM,
            "room emits/s, 10 members",
            "server CPU µs per room emit, 10 members",
        ),
    ];
    let metrics: Vec<(&'static str, bool)> = rooms
        .iter()
        .flat_map(|(_, rate, cpu)| [(*rate, true), (*cpu, false)])
        .collect();
    // samples[server][metric][round], the servers of a round back to back.
    let mut samples = vec![vec![Vec::new(); metrics.len()]; servers.len()];
    for _ in 0..settings.rounds {
        for (room_index, (members, _, _)) in rooms.iter().enumerate() {
            for (index, server) in servers.iter().enumerate() {
                let scenario = Scenario::SioRoomRecovery;
                let [deliveries, cpu] =
                    super::socketio::measure(scenario, bins, settings, server, *members)?;
                let members = f64::from((*members).max(1));
                samples[index][room_index * 2].push(deliveries / members);
                samples[index][room_index * 2 + 1].push(cpu * members);
            }
        }
    }
    let mut rows = Vec::new();
    for (pair, sides) in pairs.iter().zip(samples.chunks(2)) {
        let [off, on] = sides else {
            continue;
        };
        for (metric_index, (metric, higher_is_better)) in metrics.iter().copied().enumerate() {
            let (off, on) = (&off[metric_index], &on[metric_index]);
            rows.push(Row {
                scenario: Scenario::SioRoomRecovery.title(),
                metric,
                reference_name: pair.off,
                reference: median(off.clone()),
                framework_name: pair.on,
                framework: median(on.clone()),
                higher_is_better,
                round_ratios: on
                    .iter()
                    .zip(off)
                    .map(|(on, off)| ratio(*on, *off))
                    .collect(),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_differ_in_recovery_alone() {
        let off = server_toml("memory://", "p", false);
        let on = server_toml("memory://", "p", true);
        let config = |text: &str| ws_core::Config::from_toml_str(text).expect("a valid config");
        assert!(
            config(&off).servers[0]
                .settings
                .socketio
                .recovery
                .namespaces
                .is_empty()
        );
        assert_eq!(
            config(&on).servers[0].settings.socketio.recovery.namespaces,
            ["/"]
        );
        assert_eq!(
            on.replace(
                "\n[servers.settings.socketio.recovery]\nnamespaces = [\"/\"]\n",
                ""
            ),
            off
        );
    }
}
