//! Spawning pinned processes and reading their CPU time and memory from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::idle::parse_holding_line;

/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Gap between the two memory readings that must agree for memory to count as settled.
const SETTLE_INTERVAL: Duration = Duration::from_millis(300);

/// Which cores the servers and the load generator run on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pinning {
    pub(super) enabled: bool,
    pub(super) server_core: u32,
    pub(super) client_core: u32,
}

impl Pinning {
    pub(super) fn detect(server_core: u32, client_core: u32) -> Self {
        let enabled = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        Self {
            enabled,
            server_core,
            client_core,
        }
    }

    pub(super) fn command(&self, core: u32, program: &Path) -> Command {
        if self.enabled {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// A server child process, killed on drop.
pub(super) struct Server {
    child: Child,
    pub(super) port: u16,
}

impl Server {
    pub(super) fn start(mut command: Command, port: u16) -> anyhow::Result<Self> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env("RUST_LOG", "warn")
            .spawn()
            .context("cannot start server")?;
        let server = Self { child, port };
        wait_for_port(port)?;
        Ok(server)
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds used so far.
    pub(super) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid()).unwrap_or(0.0)
    }

    /// Resident memory once it has stopped moving: the later of two readings
    /// [`SETTLE_INTERVAL`] apart that are within 1 % of each other.
    ///
    /// A single reading right after a burst of work catches the allocator mid-way (pages
    /// still being touched, or freed ones not yet returned), which is noise next to the few
    /// kilobytes per connection being measured.
    pub(super) fn settled_rss(&self, timeout: Duration) -> anyhow::Result<u64> {
        let pid = self.pid();
        let read = || rss_bytes(pid).with_context(|| format!("server {pid} is gone"));
        let deadline = Instant::now() + timeout;
        let mut last = read()?;
        loop {
            std::thread::sleep(SETTLE_INTERVAL);
            let now = read()?;
            if now.abs_diff(last) * 100 <= last {
                return Ok(now);
            }
            if Instant::now() > deadline {
                bail!(
                    "server {pid}'s memory did not settle within {} s (last {last} then {now} bytes)",
                    timeout.as_secs()
                );
            }
            last = now;
        }
    }

    /// Sockets the server holds: its listeners plus one per accepted connection.
    pub(super) fn socket_count(&self) -> anyhow::Result<u64> {
        let dir = format!("/proc/{}/fd", self.pid());
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {dir}"))?;
        let mut sockets = 0;
        for entry in entries.flatten() {
            // An fd closed between the listing and the readlink is simply not counted.
            if let Ok(target) = std::fs::read_link(entry.path())
                && target
                    .as_os_str()
                    .as_encoded_bytes()
                    .starts_with(b"socket:")
            {
                sockets += 1;
            }
        }
        Ok(sockets)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client child (`ws-cli bench --idle`, `ws-cli bench-push-reader`) holding its connections
/// open until dropped, then killed.
///
/// Killing rather than waiting for the hold to end lets the caller take its reading and move on
/// without guessing in advance how long that takes.
pub(super) struct HeldClient {
    child: Child,
    /// Connections the client reported open.
    pub(super) established: u64,
    /// What it printed before reporting them open (warnings about failed connections).
    pub(super) warnings: Vec<String>,
}

impl HeldClient {
    /// Runs `command`, a `ws-cli bench --idle` or `bench-push-reader` invocation, and returns
    /// once it reports every connection it could open as open.
    pub(super) fn start(mut command: Command, timeout: Duration) -> anyhow::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run the held client")?;
        let stderr = child
            .stderr
            .take()
            .context("the held client has no stderr pipe")?;
        let mut client = Self {
            child,
            established: 0,
            warnings: Vec::new(),
        };
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Drains to the end, after the caller stopped listening too, so the child never
            // blocks on a full pipe.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + timeout;
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => match parse_holding_line(&line) {
                    Some(established) => {
                        client.established = established;
                        return Ok(client);
                    }
                    None => client.warnings.push(line),
                },
                Err(RecvTimeoutError::Timeout) => bail!(
                    "the held client did not report its connections open within {} s",
                    timeout.as_secs()
                ),
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "the held client exited before holding its connections: {}",
                    client.warnings.join("; ")
                ),
            }
        }
    }

    /// Whether the client is still holding its connections (has not exited).
    pub(super) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for HeldClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub(super) fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "server did not listen on port {port} within {} s",
                START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// User plus system CPU time of process `pid` so far, from `/proc`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks of 1/100 s on every platform we run on (USER_HZ).
    Some((utime + stime) / 100.0)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A free TCP port on 127.0.0.1.
pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
