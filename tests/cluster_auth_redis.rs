//! Secured Redis: a real `redis-server` of our own with `requirepass`, an ACL user and a TLS
//! port (certificates made at test time, clients verified), and real seed processes that get
//! a push across it, or are refused with a clear error and `/ready` 503.

#[path = "cluster/mod.rs"]
mod cluster;
#[path = "cluster_auth/mod.rs"]
mod cluster_auth;

use std::process::Command;
use std::time::{Duration, Instant};

use cluster::{TempDir, require};
use cluster_auth::{Certs, OwnBroker, push_crosses, refused};
use support::{Spawned, free_port};

const PASSWORD: &str = "s3cret-default";
const ACL_PASSWORD: &str = "s3cret-acl";

/// `redis-server` with a password for the default user and an ACL user `app`; with `certs`,
/// only a TLS port that verifies clients.
fn redis(certs: Option<&Certs>) -> Option<OwnBroker> {
    let program = require("redis-server", "the secured Redis suite")?;
    let port = free_port();
    let dir = TempDir::new("redis-auth");
    let mut command = Command::new(program);
    command.current_dir(&dir.0).args([
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--requirepass",
        PASSWORD,
        "--user",
        "app",
        "on",
        &format!(">{ACL_PASSWORD}"),
        "~*",
        "&*",
        "+@all",
    ]);
    match certs {
        None => {
            command.args(["--port", &port.to_string()]);
        }
        Some(certs) => {
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(certs.path("server.pem"))
                .arg("--tls-key-file")
                .arg(certs.path("server-key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(certs.path("ca.pem"))
                .args(["--tls-auth-clients", "yes"]);
        }
    }
    Some(OwnBroker::start(
        command,
        "Ready to accept connections",
        port,
        dir,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_acl_user() {
    let Some(broker) = redis(None) else {
        return;
    };
    let port = broker.port;
    // One node as the default user (`requirepass`), one as the ACL user.
    push_crosses(
        [
            (&format!("redis://:{PASSWORD}@127.0.0.1:{port}"), ""),
            (&format!("redis://app:{ACL_PASSWORD}@127.0.0.1:{port}"), ""),
        ],
        None,
        &[PASSWORD, ACL_PASSWORD],
    )
    .await;
    // A wrong password, and none at all: refused, said once, and the node serves on.
    refused(
        &format!("redis://app:wrong-{ACL_PASSWORD}@127.0.0.1:{port}"),
        "",
        None,
        "refused this node's credentials",
        &[ACL_PASSWORD],
    )
    .await;
    refused(
        &format!("redis://127.0.0.1:{port}"),
        "",
        None,
        "refused this node's credentials",
        &[],
    )
    .await;
    required_and_refused(&format!(
        "redis://app:wrong-{ACL_PASSWORD}@127.0.0.1:{port}"
    ));
}

/// With `required_at_boot = true` a refused node exits at once (not after the 10 s boot
/// window) with one line saying it was refused, the password masked.
fn required_and_refused(url: &str) {
    let dir = TempDir::new("auth-required");
    cluster::seed_config_with(
        &dir.0,
        url,
        &cluster::unique_prefix("auth-required"),
        "required_at_boot = true",
    );
    let mut command = Command::new(support::binary("seed", "seed"));
    command
        .current_dir(support::workspace_root())
        .env("WS_CONFIG_DIR", &dir.0)
        .env("WS_SERVER_WS_PORT", free_port().to_string())
        .env("WS_SERVER_HTTP_PORT", free_port().to_string())
        .env("RUST_LOG", "off")
        .env("NO_COLOR", "1");
    let started = Instant::now();
    let mut process = Spawned::start(command);
    let status = process
        .wait(Duration::from_secs(30))
        .expect("a refused node with required_at_boot exits");
    let took = started.elapsed();
    assert!(!status.success(), "{status}");
    assert!(
        took < Duration::from_secs(8),
        "exited after {took:?}, not at once"
    );
    let output = process.output();
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line:\n{output}");
    assert!(
        lines[0].contains("cluster error") && lines[0].contains("refused this node's credentials"),
        "{output}"
    );
    assert!(!output.contains(ACL_PASSWORD), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let certs = Certs::generate();
    let Some(broker) = redis(Some(&certs)) else {
        return;
    };
    let port = broker.port;
    let files: &[&str] = &["ca.pem", "client.pem", "client-key.pem", "other-ca.pem"];
    let mtls = "tls_ca = \"ca.pem\"\ntls_cert = \"client.pem\"\ntls_key = \"client-key.pem\"";
    // `rediss://`, and `redis://` with `tls = true`, are the same.
    push_crosses(
        [
            (&format!("rediss://:{PASSWORD}@127.0.0.1:{port}"), mtls),
            (
                &format!("redis://app:{ACL_PASSWORD}@127.0.0.1:{port}"),
                &format!("tls = true\n{mtls}"),
            ),
        ],
        Some((&certs, files)),
        &[PASSWORD, ACL_PASSWORD],
    )
    .await;
    // A server certificate from a CA the node does not trust.
    refused(
        &format!("rediss://:{PASSWORD}@127.0.0.1:{port}"),
        "tls_ca = \"other-ca.pem\"\ntls_cert = \"client.pem\"\ntls_key = \"client-key.pem\"",
        Some((&certs, files)),
        "TLS with Redis",
        &[PASSWORD],
    )
    .await;
    // No client certificate, to a server that verifies clients.
    refused(
        &format!("rediss://:{PASSWORD}@127.0.0.1:{port}"),
        "tls_ca = \"ca.pem\"",
        Some((&certs, files)),
        "TLS with Redis",
        &[PASSWORD],
    )
    .await;
}
