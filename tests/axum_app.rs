//! `examples/axum-app` as its own process, driven by stock clients: Python's `websockets` for
//! the framework's controller mounted at `/ws`, plain HTTP for the axum routes, a CORS
//! preflight from another origin, and a push from an axum handler reaching the WebSocket client.

use std::process::Command;
use std::time::Duration;

use support::{Spawned, binary, free_port, workspace_root};

/// The client side, in Python with `websockets`: every step prints one line the test checks.
const CLIENT: &str = r#"
import asyncio, sys, urllib.request
import websockets

base = sys.argv[1]

def http(method, path, body=None, headers=None):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read().decode()

async def main():
    status, _, body = http("GET", "/hello")
    print("hello", status, body.strip())
    status, headers, _ = http("OPTIONS", "/push", headers={
        "Origin": "http://elsewhere.example",
        "Access-Control-Request-Method": "POST",
    })
    print("preflight", status, headers.get("access-control-allow-origin"))
    url = base.replace("http://", "ws://") + "/ws"
    async with websockets.connect(url, open_timeout=5) as ws:
        print("ws", await asyncio.wait_for(ws.recv(), 5))
        await ws.send("hi")
        print("ws", await asyncio.wait_for(ws.recv(), 5))
        _, _, fds = http("GET", "/connections")
        print("connections", fds)
        status, _, _ = http("POST", "/push", body=b"from axum")
        print("push", status)
        print("ws", await asyncio.wait_for(ws.recv(), 5))
    status = None
    try:
        http("GET", "/ws")
    except urllib.error.HTTPError as error:
        status = error.code
    print("plain get on /ws", status)

asyncio.run(main())
"#;

fn python_websockets() -> bool {
    Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn axum_routes_cors_and_the_mounted_controller_share_one_port() {
    if !python_websockets() {
        support::skip::skip(
            "the axum example",
            "Python's `websockets` is not installed (python3 -m pip install websockets)",
        );
        return;
    }
    let port = free_port();
    let mut command = Command::new(binary("axum-app", "axum-app"));
    command
        .current_dir(workspace_root())
        .env("AXUM_APP_PORT", port.to_string())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut app = Spawned::start(command);
    app.wait_for_output(
        &format!("axum-app listening at 127.0.0.1:{port}"),
        Duration::from_secs(60),
    );

    let output = Command::new("python3")
        .args(["-c", CLIENT, &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client failed:\n{stdout}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stderr),
        app.output()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "hello 200 Hello from axum",
            "preflight 200 *",
            "ws Opened",
            "ws Recv: hi",
            "connections [1]",
            "push 200",
            "ws from axum",
            "plain get on /ws 426",
        ],
        "server:\n{}",
        app.output()
    );

    // SIGTERM: axum stops, then the framework drains; exit 0.
    app.signal(false);
    let status = app
        .wait(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}\n{}", app.output());
}
