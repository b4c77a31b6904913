//! `ws-cli new` and `ws-cli gen:controller` end to end, loco style: generate an app into a temp
//! folder outside this workspace, build it against this checkout, run it and talk to it with a
//! real client, run its own tests, add controllers, and do it all again. Then every refusal:
//! each leaves the disk as it was.
//!
//! The generated app builds with the same cargo target dir as these tests, so the dependencies
//! compiled for the workspace are reused. Every wait is bounded and every child is killed on
//! drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");
const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// A cold build of ws-core and its dependencies on a 2-core machine, with room to spare.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const START_TIMEOUT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The generated app's package name; its binary lands in the shared target dir under this name.
const APP: &str = "ws-cli-e2e-app";

/// A folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("ws-cli-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "{what} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// A refusal: exit status 1 and one `error: ...` line holding `needle`.
    fn assert_refused(&self, needle: &str) {
        assert_eq!(self.status.code(), Some(1), "{}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line expected: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{:?}", self.stderr);
        assert!(
            lines[0].contains(needle),
            "{needle:?} missing from {:?}",
            self.stderr
        );
    }
}

/// Runs `command` to completion, killing it after `timeout`.
fn run(command: &mut Command, timeout: Duration) -> Finished {
    let mut child = Running(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}")),
    );
    // Threads because a pipe read cannot time out; they end when the child does.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.0.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            drop(child);
            let (out, err) = (stdout.join(), stderr.join());
            panic!(
                "{command:?} did not finish within {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
                out.unwrap_or_default(),
                err.unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn ws_cli(cwd: &Path, args: &[&str]) -> Finished {
    run(Command::new(BIN).args(args).current_dir(cwd), CLI_TIMEOUT)
}

/// The target dir these tests were built in: `CARGO_TARGET_DIR` when set (and absolute), else
/// `target/<profile>/deps/<test exe>` -> `target`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir;
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("test binary inside target/<profile>/deps")
        .to_path_buf()
}

/// `cargo ARGS` in `dir`, sharing this test's target dir.
fn cargo(dir: &Path, args: &[&str]) -> Finished {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // What `cargo test` set for this package: build scripts (ring's) rerun when
    // `CARGO_PKG_NAME` or `CARGO_MANIFEST_DIR` change, which would rebuild the shared target's
    // dependencies whenever another suite or a shell built them.
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
    run(
        command
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("WS_CONFIG_DIR")
            .env_remove("WS_CLUSTER_URL"),
        BUILD_TIMEOUT,
    )
}

/// The generated app's binary, running on free ports of 127.0.0.1.
struct AppProcess {
    _child: Running,
    ws: SocketAddr,
    http: SocketAddr,
}

impl AppProcess {
    fn start(dir: &Path) -> Self {
        let binary = target_dir().join("debug").join(APP);
        let mut child = Running(
            Command::new(&binary)
                .current_dir(dir)
                .envs([
                    ("WS_SERVER_WS_PORT", "0"),
                    ("WS_SERVER_HTTP_PORT", "0"),
                    ("WS_SERVER_WS_HOST", "127.0.0.1"),
                    ("WS_SERVER_HTTP_HOST", "127.0.0.1"),
                    ("WS_LOG_LEVEL", "info"),
                    ("NO_COLOR", "1"),
                ])
                .env_remove("RUST_LOG")
                .env_remove("WS_CONFIG_DIR")
                .env_remove("WS_CLUSTER_URL")
                .env_remove("WS_LOG_FORMAT")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display())),
        );
        let stderr = child.0.stderr.take().expect("app stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let (Some(ws), Some(http)) = (
                listening(&text, "WebSocket Server"),
                listening(&text, "HTTP Server"),
            ) {
                return Self {
                    _child: child,
                    ws,
                    http,
                };
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!("the app exited with {status} before listening:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "the app did not listen within {START_TIMEOUT:?}:\n{text}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The address in `<what> listening at HOST:PORT`.
fn listening(log: &str, what: &str) -> Option<SocketAddr> {
    let needle = format!("{what} listening at ");
    let line = log.lines().find(|l| l.contains(&needle))?;
    let rest = &line[line.find(&needle)? + needle.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `GET path` over a plain HTTP/1.1 connection: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect over HTTP");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"));
    (status, body.to_string())
}

/// Connects to `url`, sends each of `send` and returns the first `expect` text messages.
fn ws_exchange(url: &str, send: &[&str], expect: usize) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (mut ws, _) = tokio::time::timeout(IO_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .unwrap_or_else(|_| panic!("connecting to {url} timed out"))
            .unwrap_or_else(|e| panic!("connecting to {url} failed: {e}"));
        for text in send {
            ws.send(Message::text(*text)).await.expect("send");
        }
        let mut got = Vec::new();
        while got.len() < expect {
            let next = tokio::time::timeout(IO_TIMEOUT, ws.next())
                .await
                .unwrap_or_else(|_| panic!("{url}: nothing after {got:?}"));
            match next {
                Some(Ok(Message::Text(text))) => got.push(text.to_string()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("{url}: unexpected {other:?} after {got:?}"),
            }
        }
        let _ = tokio::time::timeout(IO_TIMEOUT, ws.close(None)).await;
        got
    })
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every file under `dir`, relative, sorted, with contents: a before/after picture of a folder.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir)
            .expect("read dir")
            .map_while(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_path_buf();
                out.push((rel, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `ws-cli new APP` into a fresh temp folder; returns the folder and the app inside it.
fn new_app(label: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(label);
    ws_cli(tmp.path(), &["new", APP]).assert_success("ws-cli new");
    let app = tmp.path().join(APP);
    (tmp, app)
}

#[test]
fn new_app_builds_serves_passes_its_tests_and_grows_controllers() {
    let (tmp, app) = new_app("e2e");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ws-cli/ has a parent");
    assert!(
        !tmp.path().starts_with(workspace),
        "generated inside the workspace"
    );
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "config/server.toml",
        ".env.example",
        ".gitignore",
        "README.md",
        "src/lib.rs",
        "src/main.rs",
        "src/controller/mod.rs",
        "src/controller/websocket.rs",
        "src/controller/server.rs",
        "tests/app.rs",
    ] {
        assert!(app.join(file).is_file(), "{file} missing");
    }
    let readme = read(app.join("README.md"));
    for command in ["cargo run -- routes", "cargo run -- config", "cargo test"] {
        assert!(readme.contains(command), "README lacks `{command}`");
    }

    cargo(&app, &["build"]).assert_success("cargo build of the new app");
    {
        let running = AppProcess::start(&app);
        let got = ws_exchange(&format!("ws://{}/", running.ws), &["hi"], 2);
        assert_eq!(got, ["Opened", "Recv: hi"]);
        assert_eq!(
            http_get(running.http, "/"),
            (200, format!("{APP} is running"))
        );
        assert_eq!(http_get(running.http, "/server/connections").0, 200);
    }
    let tested = cargo(&app, &["test"]);
    tested.assert_success("cargo test of the new app");
    assert!(
        tested.stdout.contains("test result: ok. 3 passed"),
        "{}",
        tested.stdout
    );

    ws_cli(
        &app,
        &["gen:controller", "chat_room", "--ws", "--path", "/chat"],
    )
    .assert_success("gen:controller --ws");
    // From a subfolder: the app is found upward.
    ws_cli(
        &app.join("src"),
        &["gen:controller", "Stats", "--http", "--prefix", "/stats"],
    )
    .assert_success("gen:controller --http");
    let chat = read(app.join("src/controller/chat_room.rs"));
    assert!(chat.contains("#[ws_controller(server = \"ws\", path = \"/chat\")]"));
    assert!(chat.contains("pub struct ChatRoomController"));
    assert!(read(app.join("src/controller/stats.rs")).contains("pub struct StatsController"));
    let modules = read(app.join("src/controller/mod.rs"));
    assert!(
        modules.contains("pub mod chat_room;\npub mod server;\npub mod stats;\npub mod websocket;"),
        "{modules}"
    );

    cargo(&app, &["build"]).assert_success("cargo build after gen:controller");
    let binary = target_dir().join("debug").join(APP);
    let routes = run(
        Command::new(&binary).arg("routes").current_dir(&app),
        CLI_TIMEOUT,
    );
    routes.assert_success("app routes");
    for needle in ["/chat", "ChatRoomController", "/stats/index", "/stats/push"] {
        assert!(
            routes.stdout.contains(needle),
            "{needle}: {}",
            routes.stdout
        );
    }
    {
        let running = AppProcess::start(&app);
        // Before any connection: `index` counts this node's connections.
        assert_eq!(http_get(running.http, "/stats/index"), (200, "0".into()));
        let got = ws_exchange(&format!("ws://{}/chat", running.ws), &["hi", "there"], 2);
        assert_eq!(got, ["hi", "there"]);
        let got = ws_exchange(&format!("ws://{}/", running.ws), &["again"], 2);
        assert_eq!(got, ["Opened", "Recv: again"]);
    }
    let tested = cargo(&app, &["test"]);
    tested.assert_success("cargo test after gen:controller");
    for name in ["chat_room_echoes_every_message", "stats_answers_its_routes"] {
        assert!(
            tested.stdout.contains(&format!("test {name} ... ok")),
            "{}",
            tested.stdout
        );
    }
}

#[test]
fn new_refuses_invalid_names_and_writes_nothing() {
    let tmp = TempDir::new("bad-names");
    for (name, why) in [
        ("1abc", "it must start with a letter"),
        ("fn", "it is a Rust keyword"),
        ("my app", "` ` is not allowed"),
        (
            "ws-core",
            "a crate named `ws_core` is already part of every ws-core app",
        ),
        (
            "test",
            "a crate named `test` is already part of every ws-core app",
        ),
    ] {
        ws_cli(tmp.path(), &["new", name])
            .assert_refused(&format!("`{name}` cannot be the app's name: {why}"));
    }
    assert!(snapshot(tmp.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(tmp.path()).map(Iterator::count).ok(),
        Some(0)
    );
}

#[test]
fn new_refuses_a_non_empty_folder_unless_forced() {
    let tmp = TempDir::new("non-empty");
    let app = tmp.path().join("chat");
    std::fs::create_dir_all(app.join("src")).expect("mkdir");
    std::fs::write(app.join("notes.txt"), "mine").expect("write");
    std::fs::write(app.join("src/main.rs"), "fn main() {}").expect("write");
    let before = snapshot(&app);

    ws_cli(tmp.path(), &["new", "chat"]).assert_refused("already exists and is not empty");
    assert_eq!(snapshot(&app), before, "a refusal wrote something");

    ws_cli(tmp.path(), &["new", "chat", "--force"]).assert_success("new --force");
    assert_eq!(read(app.join("notes.txt")), "mine");
    assert!(read(app.join("src/main.rs")).contains("#[ws_core::main]"));
    assert!(app.join("Cargo.toml").is_file());

    // An empty folder needs no --force; a file in the way is refused.
    std::fs::create_dir(tmp.path().join("empty")).expect("mkdir");
    ws_cli(tmp.path(), &["new", "empty"]).assert_success("new into an empty folder");
    std::fs::write(tmp.path().join("afile"), "x").expect("write");
    ws_cli(tmp.path(), &["new", "afile", "--force"]).assert_refused("is not a folder");
}

#[test]
fn new_takes_the_dependency_from_path_git_or_version() {
    let tmp = TempDir::new("sources");
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ws-core");
    let checkout = std::fs::canonicalize(checkout).expect("ws-core of this checkout");
    let checkout = checkout.to_str().expect("utf-8 path");

    ws_cli(tmp.path(), &["new", "by-default"]).assert_success("new");
    let manifest = read(tmp.path().join("by-default/Cargo.toml"));
    // A path relative to the app, naming nothing of this machine, that leads to the checkout.
    let relative = dependency_path(&manifest);
    assert!(relative.starts_with("../"), "{manifest}");
    assert!(!manifest.contains(&format!("\"{checkout}")), "{manifest}");
    assert_eq!(
        std::fs::canonicalize(tmp.path().join("by-default").join(&relative)).ok(),
        Some(PathBuf::from(checkout))
    );
    assert!(manifest.contains(&format!(
        "ws-core = {{ path = \"{relative}\", features = [\"testing\"] }}"
    )));
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    assert!(manifest.contains("\ntokio = "), "{manifest}");

    ws_cli(tmp.path(), &["new", "by-path", "--path", checkout]).assert_success("new --path");
    let relative = dependency_path(&read(tmp.path().join("by-path/Cargo.toml")));
    assert_eq!(
        std::fs::canonicalize(tmp.path().join("by-path").join(&relative)).ok(),
        Some(PathBuf::from(checkout))
    );

    ws_cli(
        tmp.path(),
        &["new", "by-git", "--git", "https://example.invalid/ws.git"],
    )
    .assert_success("new --git");
    assert!(
        read(tmp.path().join("by-git/Cargo.toml"))
            .contains("ws-core = { git = \"https://example.invalid/ws.git\", features = [] }")
    );
    assert!(!tmp.path().join("by-git/Cargo.lock").exists());

    ws_cli(tmp.path(), &["new", "by-version", "--version", "0.1"]).assert_success("new --version");
    assert!(
        read(tmp.path().join("by-version/Cargo.toml"))
            .contains("ws-core = { version = \"0.1\", features = [] }")
    );

    ws_cli(
        tmp.path(),
        &["new", "nowhere", "--path", "/nonexistent-ws-core"],
    )
    .assert_refused("/nonexistent-ws-core (--path) does not exist");
    ws_cli(
        tmp.path(),
        &[
            "new",
            "not-core",
            "--path",
            tmp.path().to_str().expect("utf-8"),
        ],
    )
    .assert_refused("is not the ws-core crate");
    let both = ws_cli(tmp.path(), &["new", "both", "--git", "x", "--version", "1"]);
    assert_eq!(both.status.code(), Some(2), "{}", both.stderr);
    for refused in ["nowhere", "not-core", "both"] {
        assert!(!tmp.path().join(refused).exists(), "{refused} was written");
    }
}

/// The `path` of the `ws-core = { path = "..", .. }` line of a manifest.
fn dependency_path(manifest: &str) -> String {
    let line = manifest
        .lines()
        .find(|l| l.starts_with("ws-core = { path = \""))
        .unwrap_or_else(|| panic!("no path dependency in {manifest}"));
    line["ws-core = { path = \"".len()..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn gen_controller_refuses_to_overwrite_and_writes_nothing() {
    let (_tmp, app) = new_app("overwrite");
    ws_cli(&app, &["gen:controller", "chat", "--ws", "--path", "/chat"])
        .assert_success("gen:controller");
    let before = snapshot(&app);

    for args in [
        &["gen:controller", "chat", "--ws"][..],
        &["gen:controller", "ChatController", "--http"],
        &["gen:controller", "websocket", "--ws"],
        &["gen:controller", "server", "--http"],
    ] {
        ws_cli(&app, args).assert_refused("already exists; nothing was written");
    }
    // The test file alone is enough to refuse, before the controller is written.
    std::fs::write(app.join("tests/lobby.rs"), "// mine\n").expect("write");
    let before_lobby = snapshot(&app);
    ws_cli(&app, &["gen:controller", "lobby", "--ws"])
        .assert_refused("tests/lobby.rs already exists");
    assert_eq!(snapshot(&app), before_lobby);
    std::fs::remove_file(app.join("tests/lobby.rs")).expect("remove");
    assert_eq!(snapshot(&app), before);

    // A module declared by hand, without its file.
    let mod_rs = app.join("src/controller/mod.rs");
    std::fs::write(&mod_rs, read(&mod_rs) + "pub mod hand;\n").expect("write");
    let before_hand = snapshot(&app);
    ws_cli(&app, &["gen:controller", "hand", "--ws"]).assert_refused("already declares `mod hand`");
    assert_eq!(snapshot(&app), before_hand);
}

#[test]
fn gen_controller_refuses_bad_input_and_writes_nothing() {
    let (tmp, app) = new_app("gen-bad");
    let before = snapshot(&app);
    for (args, needle) in [
        (
            &["gen:controller", "1abc", "--ws"][..],
            "`1abc` cannot be a controller name",
        ),
        (&["gen:controller", "fn", "--http"], "Rust keyword"),
        (&["gen:controller", "a.b", "--ws"], "`.` is not allowed"),
        (
            &["gen:controller", "x", "--ws", "--path", "x"],
            "--path `x` must start with `/`",
        ),
        (
            &["gen:controller", "x", "--ws", "--path", "/a\"b"],
            "cannot contain",
        ),
        (
            &["gen:controller", "x", "--ws", "--server", "nope"],
            "defines no server `nope`",
        ),
        (
            &["gen:controller", "x", "--ws", "--server", "http"],
            "is of type `http`, not `websocket`",
        ),
    ] {
        ws_cli(&app, args).assert_refused(needle);
    }
    for args in [
        &["gen:controller", "x"][..],
        &["gen:controller", "x", "--ws", "--http"],
        &["gen:controller", "x", "--ws", "--prefix", "/x"],
        &["gen:controller", "x", "--http", "--path", "/x"],
    ] {
        let usage = ws_cli(&app, args);
        assert_eq!(usage.status.code(), Some(2), "{args:?}: {}", usage.stderr);
    }
    assert_eq!(snapshot(&app), before);

    ws_cli(tmp.path(), &["gen:controller", "x", "--ws"]).assert_refused("no Cargo.toml");
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"other\"\n",
    )
    .expect("write");
    ws_cli(tmp.path(), &["gen:controller", "x", "--ws"])
        .assert_refused("does not depend on ws-core");
}

#[test]
fn gen_controller_creates_the_controller_module_when_missing() {
    let (_tmp, app) = new_app("no-mod");
    std::fs::remove_dir_all(app.join("src/controller")).expect("remove controllers");
    let lib = read(app.join("src/lib.rs")).replace("pub mod controller;\n\n", "");
    std::fs::write(app.join("src/lib.rs"), &lib).expect("write");

    ws_cli(&app, &["gen:controller", "lobby", "--ws"]).assert_success("gen:controller");
    assert_eq!(
        read(app.join("src/controller/mod.rs")),
        "//! The app's controllers; `ws-cli gen:controller NAME` adds one here.\n\npub mod lobby;\n"
    );
    let lib = read(app.join("src/lib.rs"));
    assert!(
        lib.contains("\n\npub mod controller;\n\nuse ws_core::App;"),
        "{lib}"
    );
    assert!(read(app.join("src/controller/lobby.rs")).contains("path = \"/lobby\""));
    assert!(read(app.join("tests/lobby.rs")).contains("server.connect(\"ws\", \"/lobby\")"));
}

/// The Rust blocks of a guide as rustdoc compiles them: hidden `# ` lines shown, wrapped in a
/// `main` when they have none.
fn guide_snippets(guide: &str) -> Vec<String> {
    let mut snippets = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.starts_with("```rust")
                && !["ignore", "compile_fail", "text"]
                    .iter()
                    .any(|skip| fence.contains(skip)) =>
            {
                current = Some(String::new());
            }
            None => {}
            Some(_) if fence.starts_with("```") => {
                let code = current.take().unwrap_or_default();
                snippets.push(if code.contains("fn main") {
                    code
                } else {
                    format!("fn main() {{\n{code}}}\n")
                });
            }
            Some(code) => {
                let shown = match fence {
                    "#" => "",
                    hidden if hidden.starts_with("# ") => &hidden[2..],
                    _ => line,
                };
                code.push_str(shown);
                code.push('\n');
            }
        }
    }
    snippets
}

#[test]
fn new_app_builds_the_guides_snippets_unchanged() {
    let (_tmp, app) = new_app("guides");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut guides: Vec<PathBuf> = std::fs::read_dir(&docs)
        .expect("docs/")
        .map_while(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.as_bytes()[0].is_ascii_digit() && n.ends_with(".md"))
        })
        .collect();
    guides.sort();
    std::fs::create_dir_all(app.join("examples")).expect("mkdir examples");
    // One example, each snippet a module of it: its `main` is then an ordinary function, and
    // one binary links instead of one per snippet.
    let mut example = String::new();
    let mut written = Vec::new();
    for guide in &guides {
        let stem = guide
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .replace('-', "_");
        for (n, code) in guide_snippets(&read(guide)).into_iter().enumerate() {
            let name = format!("guide_{stem}_{n}");
            example.push_str(&format!("mod {name} {{\n#![allow(unused)]\n{code}}}\n\n"));
            written.push(name);
        }
    }
    // The Sender chapter's `tokio::spawn` among them, and one snippet per chapter with code.
    assert!(
        written.iter().any(|n| n.starts_with("guide_07_sender")),
        "{written:?}"
    );
    assert!(written.len() >= 10, "{written:?}");
    example.push_str("fn main() {}\n");
    std::fs::write(app.join("examples/guides.rs"), example).expect("write the example");
    cargo(&app, &["build", "--example", "guides"])
        .assert_success("the guides' snippets in a new app");
}
