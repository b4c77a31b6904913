//! The app binary (`#[ws_core::main]`) run as a process: its command line sees the macro routes,
//! and a boot error is one line on stderr with a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_macro-app");

/// A config folder holding `toml` as server.toml, unique per test.
fn config_dir(name: &str, toml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("macro-app-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    std::fs::write(dir.join("server.toml"), toml).expect("server.toml written");
    dir
}

#[test]
fn routes_lists_macro_and_config_routes() {
    let output = Command::new(BIN)
        .arg("routes")
        .output()
        .expect("the app runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "ws      WS             /chat                     ChatController             macro",
        "http    GET|POST|HEAD  /server/send              ServerController::send     macro",
        "http    PUT|PATCH      /admin/users/{id}/rename  UserController::rename     macro",
        "http    GET|HEAD       /config/ping              closure                    config",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in\n{stdout}"
        );
    }
}

#[test]
fn a_server_missing_from_the_config_is_one_line_and_exit_1() {
    let toml = "[[servers]]\nname = \"http\"\ntype = \"http\"\nhost = \"127.0.0.1\"\nport = 0\n\n\
                [app]\ngreeting = \"Hi\"\nrooms = { max = 1 }\n";
    let dir = config_dir("no-ws", toml);
    let output = Command::new(BIN)
        .arg("--config")
        .arg(&dir)
        .output()
        .expect("the app runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = dir.join("server.toml");
    assert_eq!(
        stderr,
        format!(
            "error: route error: `Silent` routes `/config/silent` on server `ws`, which {} does not define\n",
            file.display()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_value_is_one_line_and_exit_1() {
    let toml = "[[servers]]\nname = \"http\"\ntype = \"http\"\nhost = \"127.0.0.1\"\nport = 0\n\n\
                [[servers]]\nname = \"ws\"\ntype = \"websocket\"\nhost = \"127.0.0.1\"\nport = 0\n";
    let dir = config_dir("no-value", toml);
    let output = Command::new(BIN)
        .arg("--config")
        .arg(&dir)
        .output()
        .expect("the app runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: injection error: `"), "{stderr}");
    assert!(stderr.contains("reads `app."), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
