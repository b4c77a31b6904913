//! Presence across three seed processes sharing Redis, and NATS, driven by the stock Node
//! `socket.io-client` (`tests/socketio/js/presence_client.js`): each client gets every presence
//! change once wherever it happened, `/socketio/presence?room=` lists both nodes' members from
//! either node, a node killed with SIGKILL loses its member from the listing within the lease,
//! and a stopped node (SIGSTOP) is left out after one request timeout.

#[path = "cluster/mod.rs"]
mod cluster;

use cluster::{
    Broker, Kind, LEASE_MS, REQUEST_TIMEOUT_MS, TempDir, socketio_node, socketio_url, unique_prefix,
};
use support::socketio::Client;

async fn three_nodes(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("presence");
    let dirs = ["presence-a", "presence-b", "presence-c"].map(TempDir::new);
    let [a, b, c] = dirs
        .each_ref()
        .map(|dir| socketio_node(dir, &broker.url(), &prefix, ""));
    let args = [
        socketio_url(a.ws),
        socketio_url(b.ws),
        socketio_url(c.ws),
        socketio_url(a.http),
        socketio_url(b.http),
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
