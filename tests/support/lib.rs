//! Shared harness of the end-to-end tests: building and spawning the example binaries on free
//! ports, waiting for them, and cleaning up.

pub mod browser;
pub mod chat;
pub mod delivery;
pub mod skip;
pub mod socketio;
pub mod socketio_chat;

// The one definition of what `CI` means, shared with `ws-cli perf`.
#[path = "../../ws-cli/src/ci.rs"]
mod ci;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// The cargo target directory the tests run from (`target/debug/deps/<test>` -> `target`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("test binary inside target/<profile>/deps")
        .to_path_buf()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

/// Builds binary `bin` of package `package` (once per test process) and returns its path.
pub fn binary(package: &str, bin: &str) -> PathBuf {
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{package}/{bin}");
    if !built.contains(&key) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        // What `cargo test` set for this package: ring's build script reruns when
        // `CARGO_PKG_NAME` or `CARGO_MANIFEST_DIR` differ from the last build's, which would
        // rebuild (and relink) everything above it on every alternation with a plain build.
        for (name, _) in std::env::vars() {
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
                "CARGO_PRIMARY",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || name == "CARGO_TARGET_TMPDIR"
            {
                command.env_remove(name);
            }
        }
        let status = command
            .args(["build", "--quiet", "-p", package, "--bin", bin])
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p {package} --bin {bin} failed"
        );
        built.push(key);
    }
    target_dir().join("debug").join(bin)
}

/// A child process that is killed when dropped, with its output captured to a file.
pub struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    /// Starts `command` with stdout and stderr captured.
    pub fn start(mut command: Command) -> Self {
        let log = std::env::temp_dir().join(format!(
            "ws-test-{}-{}.log",
            std::process::id(),
            free_port()
        ));
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log"))
            .stderr(file)
            .spawn()
            .expect("spawn child");
        Self { child, log }
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if output.contains(needle) {
                return output;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("process exited ({status}) before printing {needle:?}:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {timeout:?}:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends SIGTERM (or SIGINT with `interrupt`).
    pub fn signal(&self, interrupt: bool) {
        let sig = if interrupt { "-INT" } else { "-TERM" };
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }

    /// Waits for the exit status, killing the process after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The seed example app running as its own process on free ports.
pub struct SeedProcess {
    /// The process.
    pub process: Spawned,
    /// The WebSocket server's address.
    pub ws: SocketAddr,
    /// The HTTP server's address.
    pub http: SocketAddr,
}

impl SeedProcess {
    /// Starts the seed app with extra environment variables and waits until both servers listen.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let (ws_port, http_port) = (free_port(), free_port());
        let mut command = Command::new(binary("seed", "seed"));
        command
            .current_dir(workspace_root())
            .env("WS_SERVER_WS_PORT", ws_port.to_string())
            .env("WS_SERVER_HTTP_PORT", http_port.to_string())
            .env("WS_SERVER_WS_HOST", "127.0.0.1")
            .env("WS_SERVER_HTTP_HOST", "127.0.0.1")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut process = Spawned::start(command);
        process.wait_for_output("HTTP Server listening at", Duration::from_secs(60));
        Self {
            process,
            ws: SocketAddr::from(([127, 0, 0, 1], ws_port)),
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
        }
    }

    /// `ws://127.0.0.1:PORT{path}`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.ws)
    }
}

/// Whether tests run in CI, where a missing service is a failure, not a skip: `CI` is `true`, `1`
/// or `yes` in any case (`ws-cli/src/ci.rs`, which `ws-cli perf` reads too).
pub fn in_ci() -> bool {
    ci::in_ci()
}
