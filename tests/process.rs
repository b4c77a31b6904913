//! The seed app as a real process: its start-up lines, its command line, bad config, a busy
//! port, and graceful shutdown on SIGTERM and SIGINT.

use std::process::Command;
use std::time::Duration;

use support::{SeedProcess, binary, free_port, workspace_root};
use ws_core::testing::TestClient;

fn seed_command() -> Command {
    let mut command = Command::new(binary("seed", "seed"));
    command
        .current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env_remove("WS_CONFIG_DIR");
    command
}

/// Runs the seed with `server.toml` = `toml` and returns (exit code, stderr).
fn run_with_config(toml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir =
        std::env::temp_dir().join(format!("ws-config-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("server.toml"), toml).unwrap();
    let mut command = seed_command();
    command.arg("--config").arg(&dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

fn assert_one_line_error(stderr: &str, needles: &[&str]) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} missing from {stderr:?}"
        );
    }
}

#[test]
fn prints_the_seed_listening_lines() {
    let seed = SeedProcess::start(&[]);
    let output = seed.process.output();
    assert!(
        output.contains(&format!(
            "WebSocket Server listening at 127.0.0.1:{}",
            seed.ws.port()
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "HTTP Server listening at 127.0.0.1:{}",
            seed.http.port()
        )),
        "{output}"
    );
}

#[test]
fn bad_config_is_one_line_naming_file_and_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = \"x\"\n",
            &["server.toml", "servers[0].port"],
        ),
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 1\nbogus = 1\n",
            &["server.toml", "bogus"],
        ),
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 1\n[[servers]]\nname = \"ws\"\ntype = \"http\"\nport = 2\n",
            &["servers[1].name", "duplicate"],
        ),
        (
            "[[servers]]\nname = \"a\"\ntype = \"websocket\"\nport = 7\n[[servers]]\nname = \"b\"\ntype = \"http\"\nport = 7\n",
            &["servers[1].port"],
        ),
        ("[[servers]\n", &["server.toml:1:"]),
    ];
    for (toml, needles) in cases {
        let (code, stderr) = run_with_config(toml, &[]);
        assert_ne!(code, 0, "{toml}");
        assert_one_line_error(&stderr, needles);
    }
}

#[test]
fn missing_config_file_is_one_line() {
    let output = seed_command()
        .args(["--config", "/nonexistent-ws-config"])
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert_one_line_error(
        &String::from_utf8_lossy(&output.stderr),
        &["/nonexistent-ws-config/server.toml"],
    );
}

#[test]
fn a_bad_env_override_names_the_variable() {
    let output = seed_command()
        .env("WS_SERVER_WS_PORT", "not-a-port")
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert_one_line_error(
        &String::from_utf8_lossy(&output.stderr),
        &["WS_SERVER_WS_PORT"],
    );
}

#[test]
fn a_busy_port_names_the_server_and_address() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let output = seed_command()
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_HTTP_PORT", free_port().to_string())
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_line_error(
        &stderr,
        &["WebSocket server `ws`", &format!("127.0.0.1:{port}")],
    );
}

#[test]
fn routes_command_lists_every_route() {
    let output = seed_command().arg("routes").output().unwrap();
    assert!(output.status.success());
    let table = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "SERVER",
        "/server/send",
        "/context",
        "/echo",
        "WS",
        // The seed's Socket.IO namespace, with both transports.
        "GET|POST|WS    /socket.io/ ns=/",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
}

#[test]
fn config_command_prints_effective_config_with_secrets_masked() {
    let output = seed_command()
        .arg("config")
        .env("WS_SERVER_WS_PORT", "7777")
        .env("WS_CLUSTER_URL", "redis://user:hunter2@127.0.0.1:6379")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("port = 7777"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

fn graceful_stop(interrupt: bool) {
    let mut seed = SeedProcess::start(&[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut clients = Vec::new();
        for path in ["/", "/echo", "/context"] {
            clients.push(TestClient::connect(&seed.ws_url(path)).await);
        }
        clients[0].assert_push("Opened").await;
        seed.process.signal(interrupt);
        for client in &mut clients {
            client.assert_closed(1001).await;
        }
    });
    let status = seed
        .process
        .wait(Duration::from_secs(10))
        .expect("exits within the drain time");
    assert!(status.success(), "{status}: {}", seed.process.output());
    assert!(
        seed.process.output().contains("closed"),
        "on_close ran: {}",
        seed.process.output()
    );
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0() {
    graceful_stop(false);
}

#[test]
fn sigint_closes_clients_with_1001_and_exits_0() {
    graceful_stop(true);
}
