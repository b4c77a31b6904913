//! Runs the stock Socket.IO clients' scripts (`tests/socketio/js`, `tests/socketio/python`)
//! against a running app, bounded in time.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::skip::skip;
use crate::workspace_root;

/// Longest a client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Which stock client a script drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `socket.io-client` 4.8 under Node (`tests/socketio/js`, installed by
    /// `.ci/install.d/node-socketio.sh`).
    Node,
    /// `python-socketio`'s client (`tests/socketio/python`).
    Python,
}

impl Client {
    fn command(self, script: &str) -> Option<(String, PathBuf)> {
        let root = workspace_root().join("tests/socketio");
        match self {
            Client::Node => {
                let dir = root.join("js");
                if !dir.join("node_modules/socket.io-client").is_dir() {
                    skip(
                        "the Node socket.io-client run",
                        "tests/socketio/js/node_modules is missing (run .ci/install.d/node-socketio.sh)",
                    );
                    return None;
                }
                Some(("node".into(), dir.join(format!("{script}.js"))))
            }
            Client::Python => {
                let ok = std::process::Command::new("python3")
                    .args(["-c", "import socketio, websocket"])
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    skip(
                        "the python-socketio client run",
                        "python-socketio[client] is not installed (run .ci/install.d/python-packages.sh)",
                    );
                    return None;
                }
                Some(("python3".into(), root.join(format!("python/{script}.py"))))
            }
        }
    }

    /// Runs `script` with `args`; panics with its output unless it prints `ok` and exits 0.
    /// Returns quietly when the client is not installed outside CI (a skip the run shows).
    pub async fn run(self, script: &str, args: &[String]) {
        let Some((program, path)) = self.command(script) else {
            return;
        };
        let child = tokio::process::Command::new(&program)
            .arg(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{self:?} client {script} ran over {SCRIPT_TIMEOUT:?}"))
            .expect("wait for the client");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.lines().any(|l| l.trim() == "ok"),
            "{self:?} client {script} {args:?} failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
}
