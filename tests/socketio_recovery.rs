//! Connection state recovery of the seed app's `/` namespace, checked by the stock
//! `socket.io-client` and its own reconnection (`tests/socketio/js/recovery_client.js`): a room
//! member loses its transport, the room goes on talking, and the member comes back — to the same
//! node, or to the other node of a two-node cluster through Redis and through NATS, also when its
//! node was killed — with its id, its rooms and what it missed, once and in order; past its
//! session's lifetime, and with a session nobody knows, it connects afresh.

#[path = "cluster/mod.rs"]
mod cluster;

use cluster::{Broker, Kind, TempDir, socketio_node, socketio_url, unique_prefix};
use support::SeedProcess;
use support::socketio::Client;

/// A seed node of a cluster at `broker` whose `/` namespace recovers sessions for
/// `lifetime_ms`.
fn recovering_node(dir: &TempDir, broker: &str, prefix: &str, lifetime_ms: u64) -> SeedProcess {
    let recovery = format!(
        "[servers.settings.socketio.recovery]\nnamespaces = [\"/\"]\n\
         max_disconnection_duration_ms = {lifetime_ms}"
    );
    socketio_node(dir, broker, prefix, &recovery)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_recovers_a_lost_transport() {
    // The seed's own config/server.toml, which recovers `/`.
    let node = SeedProcess::start(&[]);
    let target = socketio_url(node.ws);
    Client::Node
        .run("recovery_client", &[target.clone(), target, "same".into()])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_session_upgraded_to_websocket_recovers() {
    let node = SeedProcess::start(&[]);
    let target = socketio_url(node.ws);
    let args = [target.clone(), target, "same".into(), "default".into()];
    Client::Node.run("recovery_client", &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_lifetime_connects_afresh() {
    let dir = TempDir::new("sio-expired");
    let node = recovering_node(&dir, "memory://", "expired", 1_000);
    let target = socketio_url(node.ws);
    Client::Node
        .run(
            "recovery_client",
            &[target.clone(), target, "expired".into()],
        )
        .await;
}

async fn to_the_other_node(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("sio-recovery");
    let (dir_a, dir_b) = (TempDir::new("sio-a"), TempDir::new("sio-b"));
    let a = recovering_node(&dir_a, &broker.url(), &prefix, 120_000);
    let b = recovering_node(&dir_b, &broker.url(), &prefix, 120_000);
    Client::Node
        .run(
            "recovery_client",
            &[socketio_url(a.ws), socketio_url(b.ws), "other".into()],
        )
        .await;
}

/// Node A is killed while its client is connected: the session it wrote when the client
/// joined its room is in the broker, and the client recovers it on node B.
async fn after_a_crash(kind: Kind) {
    let Some(broker) = Broker::start(kind) else {
        return;
    };
    let prefix = unique_prefix("sio-crash");
    let (dir_a, dir_b) = (TempDir::new("sio-a"), TempDir::new("sio-b"));
    let a = recovering_node(&dir_a, &broker.url(), &prefix, 120_000);
    let b = recovering_node(&dir_b, &broker.url(), &prefix, 120_000);
    let args = [
        socketio_url(a.ws),
        socketio_url(b.ws),
        "crash".into(),
        "websocket".into(),
        a.process.pid().to_string(),
    ];
    Client::Node.run("recovery_client", &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_its_node_crashed_through_redis() {
    after_a_crash(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_its_node_crashed_through_nats() {
    after_a_crash(Kind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_on_the_other_node_through_redis() {
    to_the_other_node(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_on_the_other_node_through_nats() {
    to_the_other_node(Kind::Nats).await;
}
