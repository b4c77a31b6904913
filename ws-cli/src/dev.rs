//! `ws-cli dev`: the edit-and-reload loop of an app (Hyperf's `server:watch`).
//!
//! Builds the app, runs it, and polls `src/`, `config/`, `Cargo.toml` and `.env` for changes. A
//! change rebuilds while the running server keeps serving; only a successful build replaces it,
//! through SIGTERM, so the framework drains: clients get close code 1001 and reconnect to the new
//! build. A failed build prints cargo's errors and keeps the old server and the watch.
//!
//! Polling rather than OS notifications: an app has a few dozen files, a scan every half second
//! costs nothing, and it behaves the same on every platform, editor and mounted folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a stopping server may drain before it is killed: above the framework's default
/// shutdown grace, so a normal drain always completes.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const AFTER_HELP: &str = "\
Examples:
  ws-cli dev                          # in the app's folder (or below it)
  ws-cli dev --poll-ms 200            # scan for changes more often
  ws-cli dev -- --config config/dev   # arguments after -- go to the app
  WS_SERVER_WS_PORT=9600 ws-cli dev   # ports come from config/server.toml, .env and WS_* variables

Watches src/, config/, Cargo.toml and .env. On a change it rebuilds while the old server keeps
serving; a successful build replaces the server with SIGTERM, so the framework drains (clients
get close code 1001 and reconnect). A failed build prints cargo's errors and keeps watching.
Ctrl-C (or SIGTERM) stops the server the same way and exits.";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct DevArgs {
    /// Milliseconds between two scans of the watched files
    #[arg(long, value_name = "N", default_value_t = 500)]
    poll_ms: u64,
    /// The binary to run when the package has several
    #[arg(long, value_name = "NAME")]
    bin: Option<String>,
    /// Arguments passed to the app (after `--`)
    #[arg(last = true, value_name = "ARGS")]
    app_args: Vec<String>,
}

pub(crate) fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let root = cwd
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .with_context(|| {
            format!(
                "no Cargo.toml in {} or above: run `ws-cli dev` inside an app",
                cwd.display()
            )
        })?
        .to_path_buf();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(watch(root, args))
}

async fn watch(root: PathBuf, args: DevArgs) -> anyhow::Result<ExitCode> {
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let mut stop = stop_signal()?;
    let mut seen = scan(&root);
    let mut server = match build(&root, args.bin.as_deref()).await? {
        Some(binary) => Some(start(&root, &binary, &args.app_args)?),
        None => None,
    };
    eprintln!("[dev] watching src/, config/, Cargo.toml and .env; Ctrl-C stops");
    loop {
        tokio::select! {
            _ = &mut stop => {
                if let Some(server) = server.take() {
                    terminate(server).await;
                }
                return Ok(ExitCode::SUCCESS);
            }
            _ = tokio::time::sleep(poll) => {}
        }
        if let Some(child) = server.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            eprintln!("[dev] the app exited ({status}); waiting for a change");
            server = None;
        }
        let now = scan(&root);
        if now == seen {
            continue;
        }
        // An editor's save can be several writes: settle before building.
        seen = settle(&root, now, poll).await;
        eprintln!("[dev] change detected; rebuilding");
        let Some(binary) = build(&root, args.bin.as_deref()).await? else {
            continue;
        };
        if let Some(old) = server.take() {
            terminate(old).await;
        }
        server = Some(start(&root, &binary, &args.app_args)?);
    }
}

/// Waits until two scans a poll apart agree; returns the settled state.
async fn settle(root: &Path, mut last: Files, poll: Duration) -> Files {
    loop {
        tokio::time::sleep(poll.min(Duration::from_millis(200))).await;
        let now = scan(root);
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Every watched file with its modification time and length.
type Files = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

fn scan(root: &Path) -> Files {
    fn walk(path: &Path, files: &mut Files) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), files);
            }
        } else {
            files.insert(path.to_path_buf(), (meta.modified().ok(), meta.len()));
        }
    }
    let mut files = Files::new();
    for watched in ["src", "config", "Cargo.toml", ".env"] {
        walk(&root.join(watched), &mut files);
    }
    files
}

/// `cargo build`; the path of the app's binary, or `None` when the build failed (cargo's
/// diagnostics are already on stderr).
async fn build(root: &Path, bin: Option<&str>) -> anyhow::Result<Option<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--message-format=json-render-diagnostics"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(bin) = bin {
        command.args(["--bin", bin]);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(describes_another_package) {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().context("cannot run cargo")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut binaries = Vec::new();
    while let Some(line) = lines.next_line().await.context("reading cargo's output")? {
        if let Some(binary) = executable(&line) {
            binaries.push(binary);
        }
    }
    let status = child.wait().await.context("waiting for cargo")?;
    if !status.success() {
        eprintln!("[dev] build failed; fix it and save, the running server stays up");
        return Ok(None);
    }
    match binaries.as_slice() {
        [(_, binary)] => Ok(Some(binary.clone())),
        [] => bail!("the package at {} builds no binary", root.display()),
        many => bail!(
            "the package builds several binaries ({}); choose one with --bin NAME",
            many.iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The variables cargo sets for a package it runs (`cargo run -p ws-cli -- dev`, a test). Build
/// scripts such as ring's rerun when one changes (`rerun-if-env-changed=CARGO_PKG_NAME`), so
/// passing ws-cli's own values on would rebuild the app's dependencies for nothing.
fn describes_another_package(name: &str) -> bool {
    [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "CARGO_CRATE_",
        "CARGO_PRIMARY_PACKAGE",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
        || matches!(name, "OUT_DIR" | "CARGO_TARGET_TMPDIR")
}

/// `(name, path)` of a binary from one line of cargo's JSON messages.
fn executable(line: &str) -> Option<(String, PathBuf)> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = message.get("target")?;
    let is_bin = target
        .get("kind")?
        .as_array()?
        .iter()
        .any(|kind| kind.as_str() == Some("bin"));
    if !is_bin {
        return None;
    }
    let name = target.get("name")?.as_str()?.to_string();
    Some((name, PathBuf::from(message.get("executable")?.as_str()?)))
}

fn start(root: &Path, binary: &Path, args: &[String]) -> anyhow::Result<Child> {
    eprintln!("[dev] starting {}", binary.display());
    let mut command = Command::new(binary);
    command.args(args).current_dir(root).kill_on_drop(true);
    // Its own process group: a Ctrl-C at the terminal reaches `ws-cli dev` alone, which then
    // stops the server once, with SIGTERM, instead of the server seeing two signals.
    #[cfg(unix)]
    command.process_group(0);
    command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

/// SIGTERM, then waits for the drain; kills after [`STOP_TIMEOUT`].
async fn terminate(mut child: Child) {
    if let Some(pid) = child.id() {
        eprintln!("[dev] stopping the server (SIGTERM, pid {pid})");
        send_sigterm(pid).await;
        if tokio::time::timeout(STOP_TIMEOUT, child.wait())
            .await
            .is_ok()
        {
            return;
        }
        eprintln!(
            "[dev] the server did not stop within {}s; killing it",
            STOP_TIMEOUT.as_secs()
        );
    }
    let _ = child.kill().await;
}

/// Through `kill(1)`: the workspace forbids `unsafe`, and a signal crate for one call is not
/// worth its weight.
#[cfg(unix)]
async fn send_sigterm(pid: u32) {
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    if !sent.is_ok_and(|status| status.success()) {
        eprintln!("[dev] cannot send SIGTERM to {pid}");
    }
}

#[cfg(not(unix))]
async fn send_sigterm(_pid: u32) {}

/// Resolves on Ctrl-C or SIGTERM.
fn stop_signal() -> anyhow::Result<std::pin::Pin<Box<dyn Future<Output = ()>>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_read_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"chat"},"executable":"/t/debug/chat"}"#;
        assert_eq!(
            executable(line),
            Some(("chat".into(), PathBuf::from("/t/debug/chat")))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"chat"},"executable":null}"#;
        assert_eq!(executable(lib), None);
        assert_eq!(executable("not json"), None);
    }
}
