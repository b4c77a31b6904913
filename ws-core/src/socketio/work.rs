//! [`Work`]: what a connection's reader hands its handler task, in the order the client sent it.

use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::payload::Payload;
use super::reason::DisconnectReason;

/// What the handler task does next, in the order the client sent it.
pub(crate) enum Work {
    Connect {
        namespace: String,
        auth: Payload,
    },
    Event {
        namespace: String,
        ack: Option<u64>,
        args: Vec<Value>,
        attachments: Vec<bytes::Bytes>,
        /// A place in the per-connection event queue, released once the event is handled.
        permit: Option<OwnedSemaphorePermit>,
    },
    Leave {
        namespace: String,
        reason: DisconnectReason,
    },
    Closed(DisconnectReason),
}
