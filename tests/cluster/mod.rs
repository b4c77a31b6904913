//! The cluster suite, shared by `cluster_redis.rs` and `cluster_nats.rs`: real brokers started on
//! free ports, real seed processes, a real nginx running `docs/deploy/nginx.conf`, real clients.
//!
//! A missing `redis-server`, `nats-server` or `nginx` fails the test under `CI=true` and is a
//! skip that the run shows elsewhere (`support::skip`).
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use support::skip::skip;
use support::{SeedProcess, Spawned, free_port, workspace_root};

use support::delivery::{assert_exactly_once, assert_silent, expect_message};
use tokio_tungstenite::tungstenite::Message;
use ws_core::testing::{TestClient, TestServer};
use ws_core::{App, Fd, NodeId};

/// Lease of the test nodes: short, so a killed node is noticed quickly.
pub const LEASE_MS: u64 = 1500;
/// Remote-call timeout of the test nodes. A call that waits on the broker or on a remote node
/// cannot answer sooner, so "faster than this" tells a fail-fast answer from a waiting one on
/// any machine, however busy ([`assert_before_timeout`]).
pub const REQUEST_TIMEOUT_MS: u64 = 2000;

/// Which broker a suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Nats,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Nats => "nats-server",
        }
    }

    /// The machine's own broker (the services these machines start).
    pub fn system_url(self) -> &'static str {
        match self {
            Kind::Redis => "redis://127.0.0.1:6379",
            Kind::Nats => "nats://127.0.0.1:4222",
        }
    }
}

/// Finds `program` on the PATH; in CI its absence fails the test, elsewhere it is a skip that
/// the run shows (`support::skip`).
pub fn require(program: &str, why: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        skip(why, &format!("`{program}` is not installed"));
    }
    found
}

/// Whether something accepts TCP connections at `addr`.
pub fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Whether the machine's broker of `kind` is reachable; in CI it must be.
pub fn system_broker(kind: Kind) -> bool {
    let port = match kind {
        Kind::Redis => 6379,
        Kind::Nats => 4222,
    };
    let up = listening(SocketAddr::from(([127, 0, 0, 1], port)));
    if !up {
        skip(
            &format!("the cluster on the machine's own {kind:?}"),
            &format!("no {kind:?} broker listens at {}", kind.system_url()),
        );
    }
    up
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A prefix no other test run uses, so tests sharing a broker do not see each other.
pub fn unique_prefix(tag: &str) -> String {
    format!(
        "wstest-{tag}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_prefix(tag));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A broker of our own on a free port, so it can be killed and restarted.
pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    program: PathBuf,
    dir: TempDir,
    process: Option<Spawned>,
}

impl Broker {
    /// Starts a broker, or returns `None` (a skip the run shows) when its binary is missing outside CI.
    pub fn start(kind: Kind) -> Option<Self> {
        let program = require(kind.binary(), "the cluster suite")?;
        let mut broker = Self {
            kind,
            port: free_port(),
            program,
            dir: TempDir::new(kind.binary()),
            process: None,
        };
        broker.restart();
        Some(broker)
    }

    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Nats => format!("nats://127.0.0.1:{}", self.port),
        }
    }

    /// A broker of `kind` on a free port that is not started yet ([`Broker::restart`] starts
    /// it), or `None` (a loud skip) when its binary is missing outside CI.
    pub fn not_started(kind: Kind) -> Option<Self> {
        let program = require(kind.binary(), "the cluster suite")?;
        Some(Self {
            kind,
            port: free_port(),
            program,
            dir: TempDir::new(kind.binary()),
            process: None,
        })
    }

    /// Starts the broker on its port again (after [`Broker::kill`]); waits until it serves.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "broker already running");
        let port = self.port.to_string();
        let mut command = Command::new(&self.program);
        let ready = match self.kind {
            Kind::Redis => {
                command.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                "Ready to accept connections"
            }
            Kind::Nats => {
                let store = self.dir.0.join("js");
                command
                    .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
                    .arg(store);
                "Server is ready"
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // The port of a broker killed a moment ago may still be in use for an instant.
        while listening(SocketAddr::from(([127, 0, 0, 1], self.port))) {
            assert!(Instant::now() < deadline, "port {} still taken", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut process = Spawned::start(command);
        process.wait_for_output(ready, Duration::from_secs(20));
        self.process = Some(process);
    }

    /// SIGKILL: the broker vanishes with everything it held.
    pub fn kill(&mut self) {
        drop(self.process.take());
    }

    fn signal(&self, signal: &str) {
        let pid = self.process.as_ref().expect("broker running").pid();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// SIGSTOP: the broker keeps its sockets open but answers nothing (a "slow" broker).
    /// Returns once the kernel shows it stopped: `kill` returns when the signal is sent, and
    /// a broker still running its last instructions once answered the call meant to time out.
    pub fn pause(&self) {
        self.signal("-STOP");
        let pid = self.process.as_ref().expect("broker running").pid();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The state follows the command name, which is in parentheses.
            if stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T'))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("broker {pid} did not stop within 5 s of SIGSTOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // A paused broker is continued first so the kill that follows (in `Spawned`'s drop) ends
        // it at once. No assertion here: a drop during a failing test must not panic again.
        if let Some(process) = &self.process {
            let _ = Command::new("kill")
                .args(["-CONT", &process.pid().to_string()])
                .status();
        }
    }
}

/// nginx running `docs/deploy/nginx.conf` in front of the given nodes.
pub struct Nginx {
    /// The WebSocket listener (`io_nodes`).
    pub ws: SocketAddr,
    /// The HTTP listener (`api_nodes`).
    pub http: SocketAddr,
    process: Spawned,
    dir: TempDir,
}

impl Nginx {
    /// Finds nginx, or returns `None` (a skip the run shows) outside CI when it is missing.
    pub fn require() -> Option<PathBuf> {
        require("nginx", "the nginx multi-server setup")
    }

    /// Starts nginx (`program`, from [`Nginx::require`]) in front of `nodes` (ws, http) pairs.
    pub fn start(program: &Path, nodes: [(SocketAddr, SocketAddr); 2]) -> Self {
        Self::start_with(program, nodes, true)
    }

    /// [`Nginx::start`] with `/socket.io/` round-robin instead of sticky by client address, as
    /// the config's comment allows when every Socket.IO client is WebSocket-only: every client
    /// of a test runs on one address, so sticky routing would put them all on one node.
    pub fn start_round_robin(program: &Path, nodes: [(SocketAddr, SocketAddr); 2]) -> Self {
        Self::start_with(program, nodes, false)
    }

    fn start_with(program: &Path, nodes: [(SocketAddr, SocketAddr); 2], sticky: bool) -> Self {
        let dir = TempDir::new("nginx");
        let (ws_port, http_port) = (free_port(), free_port());
        let root = workspace_root();
        let mut site = std::fs::read_to_string(root.join("docs/deploy/nginx.conf"))
            .expect("docs/deploy/nginx.conf");
        let replace = |site: &mut String, from: &str, to: String| {
            assert!(
                site.contains(from),
                "docs/deploy/nginx.conf no longer contains `{from}`"
            );
            *site = site.replace(from, &to);
        };
        if !sticky {
            replace(&mut site, "hash $remote_addr consistent;", String::new());
        }
        replace(
            &mut site,
            "server ws1:9502;",
            format!("server {};", nodes[0].0),
        );
        replace(
            &mut site,
            "server ws2:9502;",
            format!("server {};", nodes[1].0),
        );
        replace(
            &mut site,
            "server ws1:9501;",
            format!("server {};", nodes[0].1),
        );
        replace(
            &mut site,
            "server ws2:9501;",
            format!("server {};", nodes[1].1),
        );
        replace(
            &mut site,
            "listen 9502;",
            format!("listen 127.0.0.1:{ws_port};"),
        );
        replace(
            &mut site,
            "listen 9501;",
            format!("listen 127.0.0.1:{http_port};"),
        );
        let site_path = dir.0.join("site.conf");
        std::fs::write(&site_path, site).expect("write site.conf");
        let main = std::fs::read_to_string(root.join("scripts/nginx-cluster.conf.template"))
            .expect("scripts/nginx-cluster.conf.template")
            .replace("{{DIR}}", &dir.0.display().to_string())
            .replace("{{SITE}}", &site_path.display().to_string());
        let main_path = dir.0.join("nginx.conf");
        std::fs::write(&main_path, main).expect("write nginx.conf");

        let mut command = Command::new(program);
        command
            .arg("-p")
            .arg(format!("{}/", dir.0.display()))
            .arg("-c")
            .arg(&main_path)
            .arg("-e")
            .arg(dir.0.join("error.log"));
        let process = Spawned::start(command);
        let ws = SocketAddr::from(([127, 0, 0, 1], ws_port));
        let http = SocketAddr::from(([127, 0, 0, 1], http_port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(listening(ws) && listening(http)) {
            let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "nginx did not start:\n{}\n{log}",
                process.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            ws,
            http,
            process,
            dir,
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

/// `server.toml` for a seed node: the seed's two servers (ports come from the environment) and
/// the given `[cluster]` section.
pub fn seed_config(dir: &Path, url: &str, prefix: &str) {
    seed_config_with(dir, url, prefix, "");
}

/// [`seed_config`] with more lines in its `[cluster]` section.
pub fn seed_config_with(dir: &Path, url: &str, prefix: &str, cluster_extra: &str) {
    let toml = format!(
        r#"
[[servers]]
name = "ws"
type = "websocket"
host = "127.0.0.1"
port = 9502

[[servers]]
name = "http"
type = "http"
host = "127.0.0.1"
port = 9501

[cluster]
url = "{url}"
prefix = "{prefix}"
lease_ms = {LEASE_MS}
request_timeout_ms = {REQUEST_TIMEOUT_MS}
{cluster_extra}
"#
    );
    std::fs::write(dir.join("server.toml"), toml).expect("write server.toml");
}

/// A seed node with Socket.IO on, `socketio_extra` (TOML: keys of `[servers.settings.socketio]`,
/// then any subtable) appended to its `[servers.settings.socketio]`, and the cluster at `broker`.
pub fn socketio_node(
    dir: &TempDir,
    broker: &str,
    prefix: &str,
    socketio_extra: &str,
) -> SeedProcess {
    seed_config_with(&dir.0, broker, prefix, "");
    let mut toml = std::fs::read_to_string(dir.0.join("server.toml")).expect("server.toml");
    toml = toml.replacen(
        "port = 9502\n",
        &format!("port = 9502\n[servers.settings.socketio]\nenabled = true\n{socketio_extra}\n"),
        1,
    );
    std::fs::write(dir.0.join("server.toml"), toml).expect("write server.toml");
    let config = dir.0.display().to_string();
    SeedProcess::start(&[("WS_CONFIG_DIR", &config)])
}

/// The address Socket.IO clients are given for a server at `addr`.
pub fn socketio_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// An HTTP request to `addr`; (status, body, how long it took).
pub async fn http(addr: SocketAddr, path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, body) = ws_core::testing::http_request(addr, "GET", path, &[], "").await;
    (status, body, started.elapsed())
}

/// The fds a node lists at `/server/connections`.
pub async fn connections(http_addr: SocketAddr) -> Vec<Fd> {
    let (status, body, _) = http(http_addr, "/server/connections").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Vec<u64>>(&body)
        .expect("a JSON array of fds")
        .into_iter()
        .map(Fd)
        .collect()
}

/// Asserts that an answer that took `took` did not wait for a remote call: it came before the
/// request timeout, which a call that waited on the broker or a remote node cannot do. (A bound
/// of a few milliseconds said the same on an idle machine and flaked on a busy one.)
pub fn assert_before_timeout(took: Duration, what: &str) {
    assert!(
        took < Duration::from_millis(REQUEST_TIMEOUT_MS),
        "{what} took {took:?}, as long as the {REQUEST_TIMEOUT_MS} ms request timeout: it waited \
         on the broker or a remote node instead of failing (or answering) at once"
    );
}

/// Polls `check` every 50 ms until it is true; panics after `within` with `what`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client connected through nginx, with the node and fd it landed on.
pub struct Landed {
    pub client: TestClient,
    pub fd: Fd,
    /// 0 = node A, 1 = node B.
    pub node: usize,
}

/// Connects through nginx to `path` and finds which node took the connection and its fd, by
/// diffing both nodes' `/server/connections`.
pub async fn land(
    nginx: &Nginx,
    nodes: [SocketAddr; 2],
    path: &str,
    known: &mut Vec<Fd>,
) -> Landed {
    let client = TestClient::connect(&format!("ws://{}{path}", nginx.ws)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for (node, http_addr) in nodes.iter().enumerate() {
            if let Some(fd) = connections(*http_addr)
                .await
                .into_iter()
                .find(|fd| !known.contains(fd))
            {
                known.push(fd);
                return Landed { client, fd, node };
            }
        }
        assert!(
            Instant::now() < deadline,
            "the connection through nginx never showed up on a node"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The end-to-end suite: two seed processes on one broker, nginx in front, clients through it.
pub async fn through_nginx(kind: Kind) {
    let started = Instant::now();
    let phase = |what: &str| {
        eprintln!(
            "[{kind:?} e2e +{:>6} ms] {what}",
            started.elapsed().as_millis()
        )
    };
    // Both programs are looked for before anything starts, so a skip costs nothing.
    let Some(nginx_program) = Nginx::require() else {
        return;
    };
    let Some(mut broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("e2e");
    // Node A reads the broker URL from its config file; node B's file says memory:// and
    // WS_CLUSTER_URL overrides it, so both ways of naming the broker are exercised.
    let dir_a = TempDir::new("node-a");
    let dir_b = TempDir::new("node-b");
    seed_config(&dir_a.0, &broker.url(), &prefix);
    seed_config(&dir_b.0, "memory://", &prefix);
    let config_a = dir_a.0.display().to_string();
    let config_b = dir_b.0.display().to_string();
    let a = SeedProcess::start(&[("WS_CONFIG_DIR", &config_a)]);
    let b = SeedProcess::start(&[
        ("WS_CONFIG_DIR", &config_b),
        ("WS_CLUSTER_URL", &broker.url()),
    ]);
    let nginx = Nginx::start(&nginx_program, [(a.ws, a.http), (b.ws, b.http)]);
    let https = [a.http, b.http];
    phase("nodes and nginx up");

    // Clients through nginx: round-robin lands them on both nodes.
    let mut known = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..4 {
        let mut landed = land(&nginx, https, "/", &mut known).await;
        landed.client.assert_push("Opened").await;
        plain.push(landed);
    }
    let mut members = Vec::new();
    for _ in 0..4 {
        members.push(land(&nginx, https, "/room?name=lobby", &mut known).await);
    }
    for group in [&plain, &members] {
        assert!(
            group.iter().any(|l| l.node == 0) && group.iter().any(|l| l.node == 1),
            "nginx sent every client to one node"
        );
    }
    let node_ids: Vec<NodeId> = [0, 1]
        .map(|n| {
            plain
                .iter()
                .find(|l| l.node == n)
                .expect("a client per node")
                .fd
                .node()
        })
        .to_vec();
    assert_ne!(node_ids[0], node_ids[1], "both nodes have the same node id");
    assert!(
        node_ids.iter().all(|id| id.0 != 0),
        "clustered nodes never use node id 0"
    );
    for landed in plain.iter().chain(&members) {
        assert!(
            landed.fd.get() < 1 << 53,
            "{} does not fit a JavaScript number",
            landed.fd
        );
        assert_eq!(
            landed.fd.node(),
            node_ids[landed.node],
            "fd {} does not name its node",
            landed.fd
        );
    }

    phase("clients landed");
    // `/server/send` on node A reaches a client held by node B, exactly once; and back.
    for (via, target) in [(0usize, 1usize), (1, 0)] {
        let landed = plain
            .iter_mut()
            .find(|l| l.node == target)
            .expect("client on target");
        let (status, body, _) = http(https[via], &format!("/server/send?fd={}", landed.fd)).await;
        assert_eq!(
            status, 200,
            "send via node {via} to fd {} on node {target}: {body}",
            landed.fd
        );
        assert_exactly_once(
            &mut landed.client,
            "Hello World.",
            &format!("client on node {target}"),
        )
        .await;
    }
    // Through nginx's HTTP side too: whichever node answers, it finds the fd.
    for landed in plain.iter_mut() {
        let (status, body, _) = http(nginx.http, &format!("/server/send?fd={}", landed.fd)).await;
        assert_eq!(status, 200, "{body}");
        assert_exactly_once(
            &mut landed.client,
            "Hello World.",
            "client (send through nginx)",
        )
        .await;
    }

    phase("sends checked");
    // A room push reaches members on both nodes, once each, and nobody else.
    let (status, body, _) = http(https[0], "/server/room?name=lobby&msg=hello-room").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let local_members = members.iter().filter(|l| l.node == 0).count();
    assert_eq!(
        json["delivered"], local_members,
        "room push counts node A's members: {body}"
    );
    for landed in members.iter_mut() {
        assert_exactly_once(&mut landed.client, "hello-room", "room member").await;
    }
    for landed in plain.iter_mut() {
        assert_silent(&mut landed.client, "non-member").await;
    }

    // A broadcast reaches every client of the cluster exactly once.
    let (status, body, _) = http(https[1], "/server/broadcast?msg=hello-all").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let local_b = plain.iter().chain(&members).filter(|l| l.node == 1).count();
    assert_eq!(
        json["delivered"], local_b,
        "broadcast counts node B's connections: {body}"
    );
    for landed in plain.iter_mut().chain(members.iter_mut()) {
        assert_exactly_once(&mut landed.client, "hello-all", "client (broadcast)").await;
    }

    // `/server/close` on node B closes a client held by node A (one second later, as the guide).
    let index = plain.iter().position(|l| l.node == 0).expect("client on A");
    let mut closing = plain.remove(index);
    let (status, body, _) = http(https[1], &format!("/server/close?fd={}", closing.fd)).await;
    assert_eq!(status, 200, "{body}");
    closing.client.assert_closed(1000).await;
    eventually(
        Duration::from_secs(5),
        "a closed fd is gone cluster-wide",
        || async {
            http(https[1], &format!("/server/close?fd={}", closing.fd))
                .await
                .0
                == 404
        },
    )
    .await;
    // 404 only when no node holds it: an fd of a live node that never existed, and of no node.
    let never = Fd::new(node_ids[0], u64::MAX);
    assert_eq!(
        http(https[1], &format!("/server/close?fd={never}")).await.0,
        404
    );
    assert_eq!(
        http(https[1], &format!("/server/send?fd={never}")).await.0,
        404
    );
    let free_id = (1..=u16::MAX)
        .find(|id| !node_ids.contains(&NodeId(*id)))
        .expect("a free id");
    let nobody = Fd::new(NodeId(free_id), 1);
    let (status, _, took) = http(https[0], &format!("/server/close?fd={nobody}")).await;
    assert_eq!(status, 404, "an fd of a node that does not exist");
    assert_before_timeout(took, "a close of an fd of a node that does not exist");

    phase("rooms, broadcast, close checked");
    // The broker dies: local delivery goes on, remote calls fail fast, readiness says so.
    broker.kill();
    for http_addr in https {
        eventually(
            Duration::from_secs(5),
            "/ready reports the lost broker",
            || async move { http(http_addr, "/ready").await.0 == 503 },
        )
        .await;
    }
    let on_b = plain.iter().position(|l| l.node == 1).expect("client on B");
    let (status, body, took) = http(https[0], &format!("/server/send?fd={}", plain[on_b].fd)).await;
    assert_eq!(status, 502, "remote send without a broker: {body}");
    assert_before_timeout(took, "a remote send without a broker");
    let on_a = plain.iter_mut().find(|l| l.node == 0).expect("client on A");
    let (status, body, _) = http(https[0], &format!("/server/send?fd={}", on_a.fd)).await;
    assert_eq!(status, 200, "local send without a broker: {body}");
    assert_exactly_once(
        &mut on_a.client,
        "Hello World.",
        "local client while the broker is down",
    )
    .await;

    phase("outage checked");
    // The broker comes back: both nodes reconnect, re-subscribe and resume, without restarts.
    broker.restart();
    for http_addr in https {
        eventually(
            Duration::from_secs(15),
            "node ready again after the broker came back",
            || async move { http(http_addr, "/ready").await.0 == 200 },
        )
        .await;
    }
    for (via, target) in [(0usize, 1usize), (1, 0)] {
        let landed = plain
            .iter_mut()
            .find(|l| l.node == target)
            .expect("client on target");
        let (status, body, _) = http(https[via], &format!("/server/send?fd={}", landed.fd)).await;
        assert_eq!(
            status, 200,
            "send via node {via} after the broker restart: {body}"
        );
        assert_exactly_once(
            &mut landed.client,
            "Hello World.",
            "client after the broker restart",
        )
        .await;
    }
    let (status, body, _) = http(https[0], "/server/broadcast?msg=back").await;
    assert_eq!(status, 200, "{body}");
    for landed in plain.iter_mut().chain(members.iter_mut()) {
        assert_exactly_once(
            &mut landed.client,
            "back",
            "client (broadcast after the broker restart)",
        )
        .await;
    }

    phase("recovered after the broker restart");
    // Node B dies: its fds stop existing cluster-wide within a bounded time (its lease).
    let b_fd = plain.iter().find(|l| l.node == 1).expect("client on B").fd;
    assert_eq!(
        http(https[0], &format!("/server/close?fd={b_fd}")).await.0,
        200,
        "B's fd exists before B dies"
    );
    let killed_at = Instant::now();
    drop(b);
    // The lease runs out, and a check still in flight may wait one request timeout for the dead
    // node; the rest is slack for a busy machine.
    let bound = Duration::from_millis(LEASE_MS + REQUEST_TIMEOUT_MS + 3000);
    eventually(bound, "a killed node's fd stops existing", || async {
        http(https[0], &format!("/server/close?fd={b_fd}")).await.0 == 404
    })
    .await;
    phase(&format!(
        "killed node's fds gone after {:?} (lease {LEASE_MS} ms)",
        killed_at.elapsed()
    ));
    // Node A and its clients carry on.
    let on_a = plain.iter_mut().find(|l| l.node == 0).expect("client on A");
    let (status, body, _) = http(https[0], &format!("/server/send?fd={}", on_a.fd)).await;
    assert_eq!(status, 200, "{body}");
    assert_exactly_once(
        &mut on_a.client,
        "Hello World.",
        "client on the surviving node",
    )
    .await;
    let (status, _, _) = http(https[0], "/server/broadcast?msg=still-here").await;
    assert_eq!(status, 200);
    assert!(
        !nginx.error_log().contains("upstream sent invalid"),
        "{}",
        nginx.error_log()
    );
    drop(a);
}

/// Two (or more) in-process seed apps on one broker.
pub async fn seed_apps(url: &str, prefix: &str, count: usize) -> Vec<TestServer> {
    let config = format!(
        "{}\n[cluster]\nurl = \"{url}\"\nprefix = \"{prefix}\"\nlease_ms = {LEASE_MS}\nrequest_timeout_ms = {REQUEST_TIMEOUT_MS}\n",
        TestServer::DEFAULT_CONFIG
    );
    let boots = (0..count).map(|_| {
        let config = config.clone();
        async move {
            let mut app = App::new();
            seed::routes(&mut app);
            TestServer::start(app, &config)
                .await
                .expect("seed app boots on the cluster")
        }
    });
    // Booted at the same moment: node ids must still come out unique.
    futures_util::future::join_all(boots).await
}

/// The fd of the connection `server` accepted last.
pub async fn newest_fd(server: &TestServer) -> Fd {
    server
        .sender()
        .local_fds()
        .into_iter()
        .max()
        .expect("a connection")
}

/// Connects to `path` on `server` and returns the client and its fd.
pub async fn connect(server: &TestServer, path: &str) -> (TestClient, Fd) {
    let before = server.sender().local_fds();
    let client = server.connect("ws", path).await;
    let mut fd = None;
    eventually(
        Duration::from_secs(5),
        "the connection is registered",
        || {
            let found = server
                .sender()
                .local_fds()
                .into_iter()
                .find(|fd| !before.contains(fd));
            fd = found;
            async move { found.is_some() }
        },
    )
    .await;
    (client, fd.expect("fd"))
}

/// Node ids stay unique when nodes boot together; push, exists and disconnect cross nodes;
/// text and binary keep their opcode; a cleanly stopped node's fds are gone at once.
pub async fn nodes_and_remote_calls(url: &str) {
    let prefix = unique_prefix("ids");
    let mut apps = seed_apps(url, &prefix, 6).await;
    let mut ids: Vec<NodeId> = apps.iter().map(|a| a.sender().node()).collect();
    assert!(ids.iter().all(|id| id.0 != 0), "{ids:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        6,
        "node ids collided when six nodes booted at once"
    );
    for extra in apps.drain(2..) {
        extra.shutdown().await;
    }
    let (a, b) = (&apps[0], &apps[1]);

    let (mut client, fd) = connect(b, "/echo").await;
    assert_eq!(fd.node(), b.sender().node());
    a.sender()
        .push(fd, "text across nodes")
        .await
        .expect("remote push");
    assert_eq!(
        expect_message(&mut client, "remote client (text)").await,
        Message::text("text across nodes")
    );
    a.sender()
        .push(fd, vec![0u8, 159, 146, 150])
        .await
        .expect("remote binary push");
    assert_eq!(
        expect_message(&mut client, "remote client (binary)").await,
        Message::binary(vec![0u8, 159, 146, 150])
    );
    assert_eq!(a.sender().exists(fd).await, Ok(true));
    let missing = Fd(fd.0 + 1_000_000);
    assert_eq!(a.sender().exists(missing).await, Ok(false));
    assert_eq!(
        a.sender().push(missing, "x").await,
        Err(ws_core::SendError::NotConnected(missing))
    );
    let free = (1..=u16::MAX)
        .map(NodeId)
        .find(|id| *id != a.sender().node() && *id != b.sender().node())
        .expect("free id");
    let started = Instant::now();
    assert_eq!(
        a.sender().exists(Fd((u64::from(free.0) << 48) | 1)).await,
        Ok(false)
    );
    assert_before_timeout(
        started.elapsed(),
        "`exists` for an fd of a node that does not exist",
    );

    a.sender()
        .disconnect_with(fd, 4000, "bye from another node")
        .await
        .expect("remote disconnect");
    client.assert_closed(4000).await;
    eventually(
        Duration::from_secs(3),
        "closed fd gone cluster-wide",
        || async { a.sender().exists(fd).await == Ok(false) },
    )
    .await;

    // A node that shuts down gives its id back: its fds are gone at once, not after the lease.
    let (_client, fd) = connect(b, "/").await;
    assert_eq!(a.sender().exists(fd).await, Ok(true));
    let sender_a = a.sender();
    let b = apps.pop().expect("b");
    b.shutdown().await;
    let started = Instant::now();
    assert_eq!(sender_a.exists(fd).await, Ok(false));
    assert_before_timeout(
        started.elapsed(),
        "`exists` for an fd of a node that shut down",
    );
    apps.pop().expect("a").shutdown().await;
}

/// Rooms and broadcasts span nodes, with an excluded fd; membership follows closes and leaves.
pub async fn rooms_across_nodes(url: &str) {
    let prefix = unique_prefix("rooms");
    let apps = seed_apps(url, &prefix, 2).await;
    let (a, b) = (&apps[0], &apps[1]);
    let mut members = Vec::new();
    for server in [a, a, b, b] {
        members.push(connect(server, "/room?name=lobby").await);
    }
    let (mut other, other_fd) = connect(b, "/room?name=other").await;
    let mut fds: Vec<Fd> = members.iter().map(|(_, fd)| *fd).collect();
    fds.sort_unstable();
    eventually(
        Duration::from_secs(3),
        "every member listed from either node",
        || async {
            a.sender().room_members("lobby").await.ok().as_ref() == Some(&fds)
                && b.sender().room_members("lobby").await.ok().as_ref() == Some(&fds)
        },
    )
    .await;
    assert_eq!(a.sender().room_members("other").await, Ok(vec![other_fd]));

    // A push to the room from B, skipping one of A's members.
    let skipped = members[0].1;
    let delivery = b
        .sender()
        .to_room("lobby", "to the room", Some(skipped))
        .await
        .expect("room push");
    assert_eq!(delivery.local, 2, "B's own members");
    for (client, fd) in members.iter_mut() {
        if *fd == skipped {
            assert_silent(client, "the excluded member").await;
        } else {
            assert_exactly_once(client, "to the room", "room member").await;
        }
    }
    assert_silent(&mut other, "member of another room").await;

    // A member's own message goes to the whole room through the controller (`to_room`).
    members[3].0.send("from a member on B").await;
    for (client, _) in members.iter_mut() {
        assert_exactly_once(client, "from a member on B", "room member").await;
    }

    // A broadcast from A skipping B's `other` member.
    let delivery = a
        .sender()
        .broadcast("everyone", Some(other_fd))
        .await
        .expect("broadcast");
    assert_eq!(delivery.local, 2);
    for (client, _) in members.iter_mut() {
        assert_exactly_once(client, "everyone", "client (broadcast)").await;
    }
    assert_silent(&mut other, "the excluded client").await;

    // Leaving and closing remove membership cluster-wide.
    let (left, closed) = (members[2].1, members[1].1);
    assert_eq!(b.sender().leave(left, "lobby").await, Ok(true));
    let (client, _) = members.remove(1);
    client.close().await;
    let expected: Vec<Fd> = fds
        .iter()
        .copied()
        .filter(|fd| *fd != left && *fd != closed)
        .collect();
    eventually(
        Duration::from_secs(3),
        "left and closed members gone from the listing",
        || async { a.sender().room_members("lobby").await.ok().as_ref() == Some(&expected) },
    )
    .await;
    for app in apps {
        app.shutdown().await;
    }
}

/// A paused (slow) broker and a killed one: nothing hangs, local delivery goes on, remote calls
/// fail with a typed error, and the nodes come back by themselves.
pub async fn broker_faults(kind: Kind) {
    let Some(mut broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("faults");
    let apps = seed_apps(&broker.url(), &prefix, 2).await;
    let (a, b) = (&apps[0], &apps[1]);
    let (id_a, id_b) = (a.sender().node(), b.sender().node());
    let (mut remote, remote_fd) = connect(b, "/echo").await;
    let (mut echo, _) = connect(a, "/echo").await;
    let (mut room_1, _) = connect(a, "/room?name=r").await;
    let (mut room_2, _) = connect(a, "/room?name=r").await;
    let bound = Duration::from_millis(REQUEST_TIMEOUT_MS * 2 + 500);

    // Paused broker: calls are bounded by the request timeout, read loops never wait on it.
    broker.pause();
    let started = Instant::now();
    let result = a.sender().push(remote_fd, "lost").await;
    assert!(
        matches!(
            result,
            Err(ws_core::SendError::Timeout { .. } | ws_core::SendError::BrokerUnavailable(_))
        ),
        "{result:?}"
    );
    assert!(
        started.elapsed() < bound,
        "a remote push on a paused broker took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    echo.send("still echoing").await;
    assert_eq!(
        expect_message(&mut echo, "echo client on a paused broker").await,
        Message::text("still echoing")
    );
    // The room controller publishes to the cluster from its read loop; the local members still
    // hear each other at once, not after a publish to the paused broker timed out.
    room_1.send("room talk").await;
    for (client, who) in [
        (&mut room_1, "room sender on a paused broker"),
        (&mut room_2, "room member on a paused broker"),
    ] {
        assert_eq!(
            expect_message(client, who).await,
            Message::text("room talk"),
            "{who}"
        );
    }
    assert_before_timeout(started.elapsed(), "local traffic on a paused broker");
    assert_silent(&mut room_1, "room sender, after its message (exactly once)").await;
    assert_silent(&mut room_2, "room member, after the message (exactly once)").await;
    eventually(
        Duration::from_millis(LEASE_MS * 3 + 3000),
        "a paused broker is noticed",
        || async { !a.sender().cluster_ready() },
    )
    .await;
    let started = Instant::now();
    let result = a.sender().exists(remote_fd).await;
    assert!(
        matches!(result, Err(ws_core::SendError::BrokerUnavailable(_))),
        "{result:?}"
    );
    assert_before_timeout(
        started.elapsed(),
        "a remote call on a broker known to be down",
    );
    broker.resume();
    for app in [a, b] {
        eventually(
            Duration::from_secs(15),
            "ready after the broker resumed",
            || async { app.sender().cluster_ready() },
        )
        .await;
    }
    eventually(
        Duration::from_secs(5),
        "remote push after the pause",
        || async { a.sender().push(remote_fd, "after pause").await.is_ok() },
    )
    .await;
    assert_eq!(
        expect_message(&mut remote, "remote client after the pause").await,
        Message::text("after pause")
    );

    // Killed broker: fail-fast while it is gone, back by itself when it returns.
    broker.kill();
    eventually(
        Duration::from_secs(5),
        "a killed broker is noticed",
        || async { !a.sender().cluster_ready() },
    )
    .await;
    let started = Instant::now();
    let result = a.sender().push(remote_fd, "lost").await;
    assert!(
        matches!(result, Err(ws_core::SendError::BrokerUnavailable(_))),
        "{result:?}"
    );
    let broadcast = a.sender().broadcast("local only", None).await;
    assert!(
        matches!(broadcast, Err(ws_core::SendError::BrokerUnavailable(_))),
        "{broadcast:?}"
    );
    assert_before_timeout(
        started.elapsed(),
        "a remote call on a broker known to be down",
    );
    // The broadcast still reached this node's clients.
    assert_exactly_once(&mut echo, "local only", "local client").await;
    broker.restart();
    for app in [a, b] {
        eventually(
            Duration::from_secs(15),
            "ready after the broker restarted",
            || async { app.sender().cluster_ready() },
        )
        .await;
    }
    assert_eq!(
        (a.sender().node(), b.sender().node()),
        (id_a, id_b),
        "node ids survive a broker restart"
    );
    a.sender()
        .push(remote_fd, "after restart")
        .await
        .expect("remote push after the restart");
    assert_eq!(
        expect_message(&mut remote, "remote client after the restart").await,
        Message::text("after restart")
    );
    assert_eq!(b.sender().exists(remote_fd).await, Ok(true));
    assert_eq!(a.sender().exists(remote_fd).await, Ok(true));

    let (status, metrics) = a.get("http", "/metrics").await;
    assert_eq!(status, 200);
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ws_backplane_errors_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("ws_backplane_errors_total in /metrics");
    assert!(errors > 0, "backplane failures are counted");
    for app in apps {
        app.shutdown().await;
    }
}

/// The machine's own broker works too (unique prefix: other runs may share it).
pub async fn on_system_broker(kind: Kind) {
    if !system_broker(kind) {
        return;
    }
    // A fixed prefix: NATS keeps one (empty, in-memory) lease stream per prefix, and a unique
    // one per run would leave a stream behind on the shared server each time. The test only
    // pushes to an fd, so another run sharing the prefix cannot disturb it.
    let apps = seed_apps(kind.system_url(), "wstest-system", 2).await;
    let (mut client, fd) = connect(&apps[1], "/").await;
    client.assert_push("Opened").await;
    apps[0]
        .sender()
        .push(fd, "via the system broker")
        .await
        .expect("remote push");
    assert_exactly_once(&mut client, "via the system broker", "client").await;
    for app in apps {
        app.shutdown().await;
    }
}

/// The fd of the connection `node` accepted since `known` was listed.
pub async fn new_fd(http_addr: SocketAddr, known: &[Fd]) -> Fd {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(fd) = connections(http_addr)
            .await
            .into_iter()
            .find(|fd| !known.contains(fd))
        {
            return fd;
        }
        assert!(Instant::now() < deadline, "the connection never showed up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A WebSocket client on a seed process's `/`, past its `Opened`, and its fd.
pub async fn seed_client(node: &SeedProcess) -> (TestClient, Fd) {
    let known = connections(node.http).await;
    let mut client = TestClient::connect(&node.ws_url("/")).await;
    client.assert_push("Opened").await;
    (client, new_fd(node.http, &known).await)
}

/// `SIGSTOP` / `SIGCONT` to a process.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The broker is down when the node boots: it binds, serves its own connections, answers
/// `/health` 200 and `/ready` 503 and fails remote pushes fast with 502; once the broker is up
/// it turns ready without a restart and pushes cross nodes.
pub async fn broker_down_at_boot(kind: Kind) {
    let Some(mut broker) = Broker::not_started(kind) else {
        return;
    };
    let prefix = unique_prefix("late");
    let dir_a = TempDir::new("late-a");
    seed_config(&dir_a.0, &broker.url(), &prefix);
    let config_a = dir_a.0.display().to_string();
    let started = Instant::now();
    let a = SeedProcess::start(&[("WS_CONFIG_DIR", &config_a)]);
    eprintln!(
        "[{kind:?}] bound with the broker down after {:?}",
        started.elapsed()
    );
    assert_eq!(http(a.http, "/health").await.0, 200);
    let (status, body, _) = http(a.http, "/ready").await;
    assert_eq!(status, 503, "{body}");

    // Its own connections work; their fds are local-only (node 0).
    let (mut early, early_fd) = seed_client(&a).await;
    assert_eq!(early_fd.node(), NodeId(0), "fd accepted before any node id");
    early.send("hi").await;
    early.assert_push("Recv: hi").await;
    let (status, body, _) = http(a.http, &format!("/server/send?fd={early_fd}")).await;
    assert_eq!(status, 200, "local push: {body}");
    assert_exactly_once(&mut early, "Hello World.", "local client").await;
    // A remote push fails at once: the broker is unavailable.
    let remote = Fd::new(NodeId(5), 1);
    let (status, body, took) = http(a.http, &format!("/server/send?fd={remote}")).await;
    assert_eq!(status, 502, "remote push without a broker: {body}");
    assert!(
        took < Duration::from_millis(REQUEST_TIMEOUT_MS / 2),
        "not fail-fast: {took:?}"
    );

    // The broker comes up: the node joins by itself.
    broker.restart();
    let took = eventually(
        Duration::from_secs(15),
        "ready once the broker is up",
        || async { http(a.http, "/ready").await.0 == 200 },
    )
    .await;
    eprintln!("[{kind:?}] ready {took:?} after the broker started");
    let dir_b = TempDir::new("late-b");
    seed_config(&dir_b.0, &broker.url(), &prefix);
    let config_b = dir_b.0.display().to_string();
    let b = SeedProcess::start(&[("WS_CONFIG_DIR", &config_b)]);
    let (mut on_a, fd_a) = seed_client(&a).await;
    let (mut on_b, fd_b) = seed_client(&b).await;
    assert_ne!(
        fd_a.node(),
        NodeId(0),
        "a joined node hands out cluster fds"
    );
    assert_ne!(fd_a.node(), fd_b.node());
    for (via, fd, client, who) in [
        (a.http, fd_b, &mut on_b, "client on B, pushed via A"),
        (b.http, fd_a, &mut on_a, "client on A, pushed via B"),
    ] {
        let (status, body, _) = http(via, &format!("/server/send?fd={fd}")).await;
        assert_eq!(status, 200, "{who}: {body}");
        assert_exactly_once(client, "Hello World.", who).await;
    }
    // The local-only connection stays its node's: reachable there, unknown elsewhere.
    assert_eq!(
        http(a.http, &format!("/server/send?fd={early_fd}")).await.0,
        200
    );
    assert_exactly_once(&mut early, "Hello World.", "local-only client").await;
    assert_eq!(
        http(b.http, &format!("/server/send?fd={early_fd}")).await.0,
        404
    );
    // Broadcasts reach it from any node.
    assert_eq!(http(b.http, "/server/broadcast?msg=all").await.0, 200);
    assert_exactly_once(&mut early, "all", "local-only client (broadcast)").await;
}

/// With `required_at_boot = true` a node whose broker is down exits non-zero, with one line
/// naming the URL, and never binds.
pub fn required_at_boot(kind: Kind) {
    let Some(broker) = Broker::not_started(kind) else {
        return;
    };
    let dir = TempDir::new("required");
    seed_config_with(
        &dir.0,
        &broker.url(),
        &unique_prefix("required"),
        "required_at_boot = true",
    );
    let http_port = free_port();
    let mut command = Command::new(support::binary("seed", "seed"));
    command
        .current_dir(workspace_root())
        .env("WS_CONFIG_DIR", &dir.0)
        .env("WS_SERVER_WS_PORT", free_port().to_string())
        .env("WS_SERVER_HTTP_PORT", http_port.to_string())
        .env("RUST_LOG", "off")
        .env("NO_COLOR", "1");
    let mut process = Spawned::start(command);
    let status = process
        .wait(Duration::from_secs(30))
        .expect("the node exits when its broker is required and down");
    assert!(!status.success(), "{status}");
    let output = process.output();
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line:\n{output}");
    assert!(
        lines[0].contains(&broker.url()) && lines[0].contains("cluster error"),
        "{output}"
    );
    assert!(!listening(SocketAddr::from(([127, 0, 0, 1], http_port))));
}

/// Holds every node id but `free` under `prefix`, as live nodes would, until dropped.
pub struct Blockers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Blockers {
    pub async fn hold(kind: Kind, url: &str, prefix: &str, free: NodeId) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (held_tx, held) = tokio::sync::oneshot::channel();
        let (url, prefix) = (url.to_string(), prefix.to_string());
        let ids: Vec<u16> = (1..=1023).filter(|id| *id != free.0).collect();
        let task = tokio::spawn(async move {
            let mut held_tx = Some(held_tx);
            match kind {
                Kind::Redis => {
                    let client = redis::Client::open(url).expect("redis url");
                    let mut conn = client
                        .get_multiplexed_async_connection()
                        .await
                        .expect("redis");
                    loop {
                        let mut pipe = redis::pipe();
                        for id in &ids {
                            pipe.cmd("SET")
                                .arg(format!("{prefix}:node:{id}"))
                                .arg("blocker")
                                .arg("PX")
                                .arg(1000)
                                .ignore();
                        }
                        pipe.query_async::<()>(&mut conn).await.expect("hold ids");
                        if let Some(tx) = held_tx.take() {
                            let _ = tx.send(());
                        }
                        tokio::select! {
                            _ = &mut stopped => break,
                            () = tokio::time::sleep(Duration::from_millis(300)) => {}
                        }
                    }
                    for id in &ids {
                        let _: Result<(), _> = redis::cmd("DEL")
                            .arg(format!("{prefix}:node:{id}"))
                            .query_async(&mut conn)
                            .await;
                    }
                }
                Kind::Nats => {
                    let client = async_nats::connect(url).await.expect("nats");
                    let js = async_nats::jetstream::new(client);
                    let store = js
                        .get_key_value(format!("{prefix}_nodes"))
                        .await
                        .expect("the lease bucket");
                    loop {
                        let puts = ids
                            .iter()
                            .map(|id| store.put(format!("n{id}"), "blocker".into()));
                        for put in futures_util::future::join_all(puts).await {
                            put.expect("hold id");
                        }
                        if let Some(tx) = held_tx.take() {
                            let _ = tx.send(());
                        }
                        tokio::select! {
                            _ = &mut stopped => break,
                            () = tokio::time::sleep(Duration::from_millis(300)) => {}
                        }
                    }
                    for id in &ids {
                        let _ = store.purge(format!("n{id}")).await;
                    }
                }
            }
        });
        held.await.expect("blockers hold the ids");
        Self {
            stop: Some(stop),
            task,
        }
    }

    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("blockers");
    }
}

/// A node paused longer than its lease while another node takes its id: when it resumes it
/// closes its connections under the lost id and claims a fresh one; the id's fds are served by
/// the new holder only.
pub async fn lease_lost(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("paused");
    let dir = TempDir::new("paused");
    seed_config(&dir.0, &broker.url(), &prefix);
    let config = dir.0.display().to_string();
    let a = SeedProcess::start(&[("WS_CONFIG_DIR", &config)]);
    eventually(Duration::from_secs(10), "A ready", || async {
        http(a.http, "/ready").await.0 == 200
    })
    .await;
    let (mut old, old_fd) = seed_client(&a).await;
    let x = old_fd.node();
    assert_ne!(x, NodeId(0));

    // A stalls past its lease; B starts while every id but A's is held, so B gets A's id.
    signal(a.process.pid(), "-STOP");
    tokio::time::sleep(Duration::from_millis(LEASE_MS + 1000)).await;
    let blockers = Blockers::hold(kind, &broker.url(), &prefix, x).await;
    let b = SeedProcess::start(&[("WS_CONFIG_DIR", &config)]);
    eventually(Duration::from_secs(10), "B ready", || async {
        http(b.http, "/ready").await.0 == 200
    })
    .await;
    let (mut on_b, fd_b) = seed_client(&b).await;
    assert_eq!(fd_b.node(), x, "B claimed the paused node's id");
    blockers.release().await;

    let resumed = Instant::now();
    signal(a.process.pid(), "-CONT");
    // A's connections under the lost id are closed, and it joins again under a fresh id.
    old.assert_closed(1012).await;
    eprintln!(
        "[{kind:?}] old connection closed {:?} after SIGCONT",
        resumed.elapsed()
    );
    let took = eventually(Duration::from_secs(15), "A ready again", || async {
        http(a.http, "/ready").await.0 == 200
    })
    .await;
    eprintln!("[{kind:?}] A ready again {took:?} after its connections closed");
    let (mut fresh, fresh_fd) = seed_client(&a).await;
    assert_ne!(fresh_fd.node(), x, "A hands out fds under the lost id");
    assert_ne!(fresh_fd.node(), NodeId(0));
    assert!(
        connections(a.http).await.iter().all(|fd| fd.node() != x),
        "A still holds connections under the lost id"
    );
    // Under id X only B serves: its client gets a push via either node, once; the old fd is
    // unknown everywhere.
    for via in [a.http, b.http] {
        let (status, body, _) = http(via, &format!("/server/send?fd={fd_b}")).await;
        assert_eq!(status, 200, "{body}");
        assert_exactly_once(&mut on_b, "Hello World.", "B's client under the taken id").await;
        assert_eq!(
            http(via, &format!("/server/send?fd={old_fd}")).await.0,
            404,
            "the paused node's old fd"
        );
    }
    let (status, body, _) = http(b.http, &format!("/server/send?fd={fresh_fd}")).await;
    assert_eq!(status, 200, "{body}");
    assert_exactly_once(&mut fresh, "Hello World.", "A's client under its new id").await;
}
