//! The Redis backplane's one writer: everything queued goes out in one pipeline per round trip.
//!
//! Under load many pushes share one round trip, and messages from this node to one connection
//! keep their order, since they leave through one queue and one connection.

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::scripts::{Names, SEND};
use crate::cluster::broker::Core;
use crate::{NodeId, SendError};

/// Items one writer pipeline carries at most; bounds the size of one Redis round trip.
const BATCH: usize = 512;
/// Outbound queue length: requests wait (bounded by their timeout) when it is full, casts fail.
pub(super) const QUEUE: usize = 16_384;

/// One item of the outbound queue.
pub(super) enum Outgoing {
    /// Published only if the target's lease is alive; `sent` gets the script's answer.
    Request {
        node: NodeId,
        frame: Bytes,
        deadline: Instant,
        sent: oneshot::Sender<Result<i64, SendError>>,
    },
    /// A cast or a reply.
    Publish {
        channel: String,
        frame: Bytes,
        deadline: Instant,
    },
}

impl Outgoing {
    fn deadline(&self) -> Instant {
        match self {
            Outgoing::Request { deadline, .. } | Outgoing::Publish { deadline, .. } => *deadline,
        }
    }
}

/// Writes the queue out until a pipeline fails; returns why. The requests of a failed pipeline
/// learn it at once.
pub(super) async fn write_loop(
    core: &Core,
    names: &Names,
    queue: &mut mpsc::Receiver<Outgoing>,
    mut conn: MultiplexedConnection,
) -> String {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if queue.recv_many(&mut batch, BATCH).await == 0 {
            return "the outbound queue closed".into();
        }
        // An item past its deadline has a caller that already gave up: sending it now would
        // deliver a push its sender was told had failed.
        let now = Instant::now();
        batch.retain(|item| item.deadline() > now);
        if batch.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for item in &batch {
            match item {
                Outgoing::Request { node, frame, .. } => {
                    pipe.cmd("EVAL")
                        .arg(SEND)
                        .arg(1)
                        .arg(names.lease(*node))
                        .arg(names.node_channel(*node))
                        .arg(&frame[..]);
                }
                Outgoing::Publish { channel, frame, .. } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(&frame[..]);
                }
            }
        }
        let failure =
            match tokio::time::timeout(core.timeout, pipe.query_async::<Vec<i64>>(&mut conn)).await
            {
                Ok(Ok(results)) => {
                    for (item, receivers) in batch.drain(..).zip(results) {
                        if let Outgoing::Request { sent, .. } = item {
                            let _ = sent.send(Ok(receivers));
                        }
                    }
                    continue;
                }
                Ok(Err(e)) => format!("publishing failed: {e}"),
                Err(_) => format!(
                    "Redis did not answer a publish within {} ms",
                    core.timeout.as_millis()
                ),
            };
        for item in batch.drain(..) {
            if let Outgoing::Request { sent, .. } = item {
                let _ = sent.send(Err(SendError::BrokerUnavailable(failure.clone())));
            }
        }
        return failure;
    }
}
