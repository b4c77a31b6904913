//! The seed app's Socket.IO namespace, checked by the stock clients (`socket.io-client` under
//! Node, `python-socketio`) against real seed processes: one node; two nodes sharing Redis, and
//! NATS; two nodes behind nginx running the guides' `docs/deploy/nginx.conf`.

#[path = "cluster/mod.rs"]
mod cluster;

use cluster::{Broker, Kind, Nginx, TempDir, socketio_node, socketio_url, unique_prefix};
use support::SeedProcess;
use support::socketio::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_speaks_to_node_and_python_clients() {
    // The seed's own config/server.toml, which enables Socket.IO on the ws server.
    let node = SeedProcess::start(&[]);
    let target = socketio_url(node.ws);
    let args = [target.clone(), target];
    tokio::join!(
        Client::Node.run("seed_client", &args),
        Client::Python.run("seed_client", &args),
    );
}

async fn two_nodes(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("sio");
    let (dir_a, dir_b) = (TempDir::new("sio-a"), TempDir::new("sio-b"));
    let a = socketio_node(&dir_a, &broker.url(), &prefix, "");
    let b = socketio_node(&dir_b, &broker.url(), &prefix, "");
    // The joiner on one node, the listener on the other, and the other way round.
    let forward = [socketio_url(a.ws), socketio_url(b.ws)];
    let backward = [socketio_url(b.ws), socketio_url(a.ws)];
    tokio::join!(
        Client::Node.run("seed_client", &forward),
        Client::Python.run("seed_client", &backward),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_redis() {
    two_nodes(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_through_nats() {
    two_nodes(Kind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_nginx() {
    let Some(program) = Nginx::require() else {
        return;
    };
    let Some(broker) = Broker::start(Kind::Redis) else {
        return;
    };
    let prefix = unique_prefix("sio-nginx");
    let (dir_a, dir_b) = (TempDir::new("sio-a"), TempDir::new("sio-b"));
    let a = socketio_node(&dir_a, &broker.url(), &prefix, "");
    let b = socketio_node(&dir_b, &broker.url(), &prefix, "");
    // The scripts' clients are WebSocket-only, which needs no sticky routing; round-robin sends
    // the two clients of each script to the two nodes (sticky by address would put both on one).
    let nginx = Nginx::start_round_robin(&program, [(a.ws, a.http), (b.ws, b.http)]);
    let through = [socketio_url(nginx.ws), socketio_url(nginx.ws)];
    Client::Node.run("seed_client", &through).await;
    Client::Python.run("seed_client", &through).await;
}
