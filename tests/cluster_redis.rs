//! The cluster suite on Redis: own `redis-server` instances on free ports (so they can be killed),
//! plus one test on the machine's Redis at 127.0.0.1:6379.

#[path = "cluster/mod.rs"]
mod cluster;

use cluster::{Broker, Kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_nginx() {
    cluster::through_nginx(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ids_and_remote_calls() {
    let Some(broker) = Broker::start(Kind::Redis) else {
        return;
    };
    cluster::nodes_and_remote_calls(&broker.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_broadcasts_span_nodes() {
    let Some(broker) = Broker::start(Kind::Redis) else {
        return;
    };
    cluster::rooms_across_nodes(&broker.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_pause_and_kill() {
    cluster::broker_faults(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_broker() {
    cluster::on_system_broker(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_at_boot() {
    cluster::broker_down_at_boot(Kind::Redis).await;
}

#[test]
fn broker_required_at_boot() {
    cluster::required_at_boot(Kind::Redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_node_loses_its_id() {
    cluster::lease_lost(Kind::Redis).await;
}
