//! The Autobahn|Testsuite case files against `echo-server`, run offline by `kosoku` (PyPI):
//! every case must be OK in the strict sense, all 517 of them, permessage-deflate (sections 12
//! and 13) included; the cases the suite itself grades INFORMATIONAL count as passing. Without kosoku
//! the test installs it with pip; if that fails it fails under `CI=true`, and elsewhere is a
//! skip the run shows. `scripts/autobahn.sh` runs the same suite against a release build.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::skip::skip;
use support::{Spawned, binary, free_port, target_dir, workspace_root};

fn kosoku_available() -> bool {
    Command::new("kosoku")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Finds kosoku, installing it with pip when it is missing.
fn ensure_kosoku() -> bool {
    if kosoku_available() {
        return true;
    }
    eprintln!("hardening_autobahn: kosoku not found; running `python3 -m pip install kosoku`");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "kosoku"])
        .status();
    kosoku_available()
}

/// The verdicts of every case report in `dir`: (id, behavior, behaviorClose, result).
fn verdicts(dir: &Path) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("kosoku wrote no report folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read report");
        let json: serde_json::Value = serde_json::from_str(&text).expect("report is JSON");
        let (Some(id), Some(behavior)) = (json["id"].as_str(), json["behavior"].as_str()) else {
            continue;
        };
        let close = json["behaviorClose"].as_str().unwrap_or("").to_string();
        let result = format!(
            "{} / {}",
            json["result"].as_str().unwrap_or(""),
            json["resultClose"].as_str().unwrap_or("")
        );
        out.push((id.to_string(), behavior.to_string(), close, result));
    }
    out
}

#[test]
fn every_autobahn_case_is_ok_against_echo_server() {
    if !ensure_kosoku() {
        skip(
            "the Autobahn|Testsuite cases",
            "kosoku is not installed and `python3 -m pip install kosoku` failed",
        );
        return;
    }
    let port = free_port();
    let mut command = Command::new(binary("echo-server", "echo-server"));
    command
        .current_dir(workspace_root())
        .env("WS_SERVER_WS_PORT", port.to_string())
        .env("WS_SERVER_WS_HOST", "127.0.0.1")
        .env("WS_LOG_LEVEL", "warn")
        .env("NO_COLOR", "1");
    let server = Spawned::start(command);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "echo-server did not listen:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let reports = target_dir().join(format!("autobahn-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&reports);
    let run = Command::new("timeout")
        .args(["1500", "kosoku", &addr.to_string(), "-p", "4", "-o"])
        .arg(&reports)
        .output()
        .expect("run kosoku");
    let kosoku_output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    let verdicts = verdicts(&reports);
    let ok = verdicts
        .iter()
        .filter(|(_, b, c, _)| b == "OK" && c == "OK")
        .count();
    let informational: Vec<_> = verdicts
        .iter()
        .filter(|(_, b, _, _)| b == "INFORMATIONAL")
        .collect();
    let bad: Vec<String> = verdicts
        .iter()
        .filter(|(_, b, c, _)| {
            !(b == "OK" && c == "OK")
                && !(b == "INFORMATIONAL" && (c == "INFORMATIONAL" || c == "OK"))
        })
        .map(|(id, b, c, r)| format!("{id}: {b} / close {c}: {r}"))
        .collect();
    eprintln!(
        "autobahn: {ok} OK + {} INFORMATIONAL of {} cases; {} not OK",
        informational.len(),
        verdicts.len(),
        bad.len()
    );
    let _ = std::fs::remove_dir_all(&reports);
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "echo-server died during the suite:\n{}",
        server.output()
    );
    assert!(
        verdicts.len() >= 517,
        "only {} case reports; kosoku said:\n{kosoku_output}",
        verdicts.len()
    );
    assert!(
        bad.is_empty(),
        "cases not OK:\n{}\nkosoku said:\n{kosoku_output}",
        bad.join("\n")
    );
    assert!(run.status.success(), "kosoku failed:\n{kosoku_output}");
}
