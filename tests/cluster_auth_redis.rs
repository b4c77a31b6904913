//! Secured Redis: a real `redis-server` of our own with `requirepass`, an ACL user and a TLS
//! port (certificates made at test time, clients verified), and real seed processes that get
//! a push across it, or are refused with a clear error and `/ready` 503.

#[path = "cluster/mod.rs"]
mod cluster;
#[path = "cluster_auth/mod.rs"]
mod cluster_auth;

use std::process::Command;

use cluster::{TempDir, require};
use cluster_auth::{Certs, OwnBroker, push_crosses, refused};
use support::free_port;

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
