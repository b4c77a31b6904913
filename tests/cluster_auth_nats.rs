//! Secured NATS: real `nats-server`s of our own (JetStream on) requiring a user and password,
//! a token, or TLS with verified client certificates (certificates made at test time), and
//! real seed processes that get a push across them, or are refused with a clear error and
//! `/ready` 503.

#[path = "cluster/mod.rs"]
mod cluster;
#[path = "cluster_auth/mod.rs"]
mod cluster_auth;

use std::process::Command;

use cluster::{TempDir, require};
use cluster_auth::{Certs, OwnBroker, push_crosses, refused};
use support::free_port;

const PASSWORD: &str = "s3cret-nats";
const TOKEN: &str = "t0ken-nats";

/// `nats-server -js` with `conf` (an `authorization` block, a `tls` block) in its config file.
fn nats(conf: &str) -> Option<OwnBroker> {
    let program = require("nats-server", "the secured NATS suite")?;
    let port = free_port();
    let dir = TempDir::new("nats-auth");
    let store = dir.0.join("js");
    let file = dir.0.join("nats.conf");
    std::fs::write(
        &file,
        format!(
            "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {store:?} }}\n{conf}\n",
            store = store.display().to_string()
        ),
    )
    .expect("write nats.conf");
    let mut command = Command::new(program);
    command.arg("-c").arg(&file);
    Some(OwnBroker::start(command, "Server is ready", port, dir))
}

fn users() -> String {
    format!("authorization {{ users = [ {{ user: app, password: \"{PASSWORD}\" }} ] }}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password() {
    let Some(broker) = nats(&users()) else {
        return;
    };
    let url = format!("nats://app:{PASSWORD}@127.0.0.1:{}", broker.port);
    push_crosses([(&url, ""), (&url, "")], None, &[PASSWORD]).await;
    refused(
        &format!("nats://app:wrong-{PASSWORD}@127.0.0.1:{}", broker.port),
        "",
        None,
        "refused this node's credentials",
        &[PASSWORD],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token() {
    let Some(broker) = nats(&format!("authorization {{ token: \"{TOKEN}\" }}")) else {
        return;
    };
    let url = format!("nats://{TOKEN}@127.0.0.1:{}", broker.port);
    push_crosses([(&url, ""), (&url, "")], None, &[TOKEN]).await;
    refused(
        &format!("nats://127.0.0.1:{}", broker.port),
        "",
        None,
        "refused this node's credentials",
        &[TOKEN],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let certs = Certs::generate();
    let tls = format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: 2 }}",
        certs.path("server.pem").display().to_string(),
        certs.path("server-key.pem").display().to_string(),
        certs.path("ca.pem").display().to_string(),
    );
    let Some(broker) = nats(&format!("{}\n{tls}", users())) else {
        return;
    };
    let url = format!("nats://app:{PASSWORD}@127.0.0.1:{}", broker.port);
    let files: &[&str] = &["ca.pem", "client.pem", "client-key.pem", "other-ca.pem"];
    let mtls =
        "tls = true\ntls_ca = \"ca.pem\"\ntls_cert = \"client.pem\"\ntls_key = \"client-key.pem\"";
    push_crosses(
        [(&url, mtls), (&url, mtls)],
        Some((&certs, files)),
        &[PASSWORD],
    )
    .await;
    // A server certificate from a CA the node does not trust.
    refused(
        &url,
        "tls = true\ntls_ca = \"other-ca.pem\"\ntls_cert = \"client.pem\"\ntls_key = \"client-key.pem\"",
        Some((&certs, files)),
        "TLS with NATS",
        &[PASSWORD],
    )
    .await;
    // No client certificate, to a server that verifies clients.
    refused(
        &url,
        "tls = true\ntls_ca = \"ca.pem\"",
        Some((&certs, files)),
        "TLS with NATS",
        &[PASSWORD],
    )
    .await;
}
