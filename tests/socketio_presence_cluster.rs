//! Presence across three seed processes sharing Redis, and NATS, driven by the stock Node
//! `socket.io-client` (`tests/socketio/js/presence_client.js`): each client gets every presence
//! change once wherever it happened, `/socketio/presence?room=` lists both nodes' members from
//! either node, a node killed with SIGKILL loses its member from the listing within the lease,
//! and a stopped node (SIGSTOP) is left out after one request timeout.

#[path = "cluster/mod.rs"]
mod cluster;

use std::net::SocketAddr;

use cluster::{Broker, Kind, LEASE_MS, REQUEST_TIMEOUT_MS, TempDir, unique_prefix};
use support::SeedProcess;
use support::socketio::Client;

/// A seed node with Socket.IO on and the cluster at `broker`.
fn socketio_node(dir: &TempDir, broker: &str, prefix: &str) -> SeedProcess {
    cluster::seed_config_with(&dir.0, broker, prefix, "");
    let mut toml = std::fs::read_to_string(dir.0.join("server.toml")).expect("server.toml");
    toml = toml.replacen(
        "port = 9502\n",
        "port = 9502\n[servers.settings.socketio]\nenabled = true\n",
        1,
    );
    std::fs::write(dir.0.join("server.toml"), toml).expect("write server.toml");
    let config = dir.0.display().to_string();
    SeedProcess::start(&[("WS_CONFIG_DIR", &config)])
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn three_nodes(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("presence");
    let dirs = ["presence-a", "presence-b", "presence-c"].map(TempDir::new);
    let [a, b, c] = dirs
        .each_ref()
        .map(|dir| socketio_node(dir, &broker.url(), &prefix));
    let args = [
        url(a.ws),
        url(b.ws),
        url(c.ws),
        url(a.http),
        url(b.http),
        b.process.pid().to_string(),
        c.process.pid().to_string(),
        LEASE_MS.to_string(),
        REQUEST_TIMEOUT_MS.to_string(),
    ];
    Client::Node.run("presence_client", &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_across_nodes_through_redis() {
    three_nodes(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_across_nodes_through_nats() {
    three_nodes(Kind::Nats).await;
}
