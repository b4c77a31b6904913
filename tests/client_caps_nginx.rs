//! The guides' nginx (`docs/deploy/nginx.conf`, as written) in front of one node: the node
//! trusts it, so clients are counted by the address nginx saw, whatever they put in
//! `X-Forwarded-For` themselves; and nginx keeps `/server/*` and `/metrics` from callers that
//! are not local.

use std::path::PathBuf;
use std::process::Command;

use support::{Spawned, free_port, workspace_root};

use super::*;

/// nginx running `docs/deploy/nginx.conf` with both upstreams pointing at one node.
struct Nginx {
    ws: SocketAddr,
    http: SocketAddr,
    _process: Spawned,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_nginx() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        support::skip::skip("per-client caps behind nginx", "`nginx` is not installed");
    }
    found
}

fn start_nginx(program: &PathBuf, ws_node: SocketAddr, http_node: SocketAddr) -> Nginx {
    let root = workspace_root();
    let dir = std::env::temp_dir().join(format!(
        "ws-caps-nginx-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ws_port, http_port) = (free_port(), free_port());
    let mut site =
        std::fs::read_to_string(root.join("docs/deploy/nginx.conf")).expect("nginx.conf");
    for (from, to) in [
        ("server ws1:9502;", format!("server {ws_node};")),
        ("server ws2:9502;", format!("server {ws_node};")),
        ("server ws1:9501;", format!("server {http_node};")),
        ("server ws2:9501;", format!("server {http_node};")),
        ("listen 9502;", format!("listen 127.0.0.1:{ws_port};")),
        ("listen 9501;", format!("listen 127.0.0.1:{http_port};")),
    ] {
        assert!(
            site.contains(from),
            "docs/deploy/nginx.conf no longer contains `{from}`"
        );
        site = site.replace(from, &to);
    }
    let site_path = dir.join("site.conf");
    std::fs::write(&site_path, site).expect("write site.conf");
    let main = std::fs::read_to_string(root.join("scripts/nginx-cluster.conf.template"))
        .expect("scripts/nginx-cluster.conf.template")
        .replace("{{DIR}}", &dir.display().to_string())
        .replace("{{SITE}}", &site_path.display().to_string());
    let main_path = dir.join("nginx.conf");
    std::fs::write(&main_path, main).expect("write nginx.conf");
    let mut command = Command::new(program);
    command
        .arg("-p")
        .arg(format!("{}/", dir.display()))
        .arg("-c")
        .arg(&main_path)
        .arg("-e")
        .arg(dir.join("error.log"));
    let process = Spawned::start(command);
    let ws = SocketAddr::from(([127, 0, 0, 1], ws_port));
    let http = SocketAddr::from(([127, 0, 0, 1], http_port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(ws).is_err() || std::net::TcpStream::connect(http).is_err() {
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "nginx did not start:\n{}\n{log}",
            process.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        ws,
        http,
        _process: process,
        dir,
    }
}

/// `GET path` from `127.0.0.<from>`: the response.
async fn get_from(from: u8, addr: SocketAddr, path: &str) -> HttpResponse {
    let mut stream = connect_from(from, addr).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(raw::WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("nginx answered")
        .expect("read");
    parse_response(&raw)
}

#[tokio::test]
async fn behind_the_guides_nginx_clients_are_counted_by_the_address_nginx_saw() {
    let Some(program) = find_nginx() else { return };
    let settings = "max_connections_per_client = 1\ntrusted_proxies = [\"127.0.0.1\"]";
    let (server, ws, http) = start(settings, "trusted_proxies = [\"127.0.0.1\"]").await;
    let nginx = start_nginx(&program, ws, http);

    let (_first, told) = open(2, nginx.ws, "").await.expect("first client");
    assert_eq!(told, "127.0.0.2");
    // The same client claiming another address is still itself: nginx appends what it saw.
    let spoofed = refused(
        open(2, nginx.ws, "X-Forwarded-For: 198.51.100.7\r\n").await,
        503,
    );
    assert!(spoofed.body.contains("too many connections"), "{spoofed:?}");
    let (_other, told) = open(3, nginx.ws, "").await.expect("another client");
    assert_eq!(told, "127.0.0.3");

    // HTTP through nginx: the client's address; the internal endpoints only from local callers.
    assert_eq!(get_from(4, nginx.http, "/whoami").await.body, "127.0.0.4");
    for path in ["/metrics", "/server/connections"] {
        assert_eq!(
            get_from(4, nginx.http, path).await.status,
            403,
            "{path} from outside"
        );
    }
    assert_eq!(
        get_from(1, nginx.http, "/metrics").await.status,
        200,
        "/metrics from the host"
    );
    drop(nginx);
    server.shutdown().await;
}
