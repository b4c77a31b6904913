//! `ws-cli client` over `wss://` against the seed app served with TLS from a self-signed
//! certificate generated here: trusted with `--ca`, refused without it, accepted with `-k`; and
//! the seed's greeting (`Opened`, sent first by the server) printed before what the client sends.
//! The config names its PEM files relative to its own folder. With `--deflate`, over ws:// and
//! wss://, the client offers permessage-deflate, says what was agreed, and a compressed reply
//! reads as sent.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::{SeedProcess, binary};

/// A config folder with a TLS `ws` server and a plain `http` one, removed on drop.
struct TlsConfig(PathBuf);

impl TlsConfig {
    /// `test` names the folder, so tests running side by side do not share it.
    fn generate(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-client-tls-{test}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("certs")).expect("temp dir");
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("generate a certificate");
        std::fs::write(dir.join("certs/cert.pem"), generated.cert.pem()).expect("write cert");
        std::fs::write(
            dir.join("certs/key.pem"),
            generated.signing_key.serialize_pem(),
        )
        .expect("write key");
        std::fs::write(
            dir.join("server.toml"),
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 9502\n\
             [servers.settings]\ntls = { cert = \"certs/cert.pem\", key = \"certs/key.pem\" }\n\n\
             [[servers]]\nname = \"http\"\ntype = \"http\"\nport = 9501\n",
        )
        .expect("write config");
        Self(dir)
    }
}

impl Drop for TlsConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ws-cli client ARGS` with `stdin` piped in; bounded by the client's own timeouts.
fn client(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(binary("ws-cli", "ws-cli"))
        .args(["client"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ws-cli client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("ws-cli client output")
}

#[test]
fn ws_cli_client_speaks_wss_to_a_self_signed_seed() {
    let config = TlsConfig::generate("self-signed");
    let dir = config.0.to_str().expect("utf-8 temp dir");
    let seed = SeedProcess::start(&[("WS_CONFIG_DIR", dir)]);
    let url = format!("wss://localhost:{}/", seed.ws.port());
    let ca = config.0.join("certs/cert.pem");
    let ca = ca.to_str().expect("utf-8 path");

    let trusted = client(&[&url, "--ca", ca, "-x", "hi"], "");
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert!(
        trusted.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    // The greeting first, then what was sent and its reply.
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["< Opened", "> hi", "< Recv: hi", "closed: 1000"],
        "{stdout}"
    );

    let untrusted = client(&[&url, "-x", "hi"], "");
    assert_eq!(untrusted.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("certificate"),
        "{stderr}"
    );

    // Piped stdin, certificate not checked: the greeting still comes before the first line.
    let insecure = client(&[&url, "-k", "--wait-ms", "300"], "one\ntwo\n");
    let stdout = String::from_utf8_lossy(&insecure.stdout);
    assert!(insecure.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"< Opened"), "{stdout}");
    let mut rest = lines[1..].to_vec();
    rest.sort_unstable();
    // Lines go out as stdin yields them, so a reply may come before the next line is echoed.
    assert_eq!(
        rest,
        [
            "< Recv: one",
            "< Recv: two",
            "> one",
            "> two",
            "closed: 1000"
        ],
        "{stdout}"
    );
}

/// A chat message of JSON the seed answers with `Recv: ` before it: long enough to be
/// compressed (the default threshold is 128 bytes).
const CHAT: &str = r#"{"type":"message","room":"lobby","from":"alice","text":"hello everyone, hello everyone, the standup starts in five minutes","sent_at":"2026-12-06T03:00:00Z"}"#;

/// `ws-cli client URL --deflate -x CHAT` with `extra` arguments: the agreement on stderr, the
/// greeting, the message and its reply inflated on stdout.
fn assert_deflate_round_trip(url: &str, extra: &[&str]) {
    let mut args = vec![url, "--deflate", "-x", CHAT];
    args.extend_from_slice(extra);
    let output = client(&args, "");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("extension: permessage-deflate; server_no_context_takeover"),
        "{stderr}"
    );
    let reply = format!("< Recv: {CHAT}");
    let sent = format!("> {CHAT}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["< Opened", sent.as_str(), reply.as_str(), "closed: 1000"],
        "{stdout}"
    );
}

#[test]
fn ws_cli_client_deflate_over_ws_and_wss() {
    let plain = SeedProcess::start(&[]);
    assert_deflate_round_trip(&plain.ws_url("/"), &[]);
    let without = client(&[&plain.ws_url("/"), "-x", "hi"], "");
    assert!(without.status.success());
    assert!(
        !String::from_utf8_lossy(&without.stderr).contains("extension:"),
        "no offer, no agreement to report"
    );
    drop(plain);

    let config = TlsConfig::generate("deflate");
    let dir = config.0.to_str().expect("utf-8 temp dir");
    let seed = SeedProcess::start(&[("WS_CONFIG_DIR", dir)]);
    let ca = config.0.join("certs/cert.pem");
    let ca = ca.to_str().expect("utf-8 path");
    assert_deflate_round_trip(
        &format!("wss://localhost:{}/", seed.ws.port()),
        &["--ca", ca],
    );
}
