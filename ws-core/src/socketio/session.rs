//! [`Session`]: one connection's Engine.IO state, shared by its reader, its heartbeat and its
//! handler task.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};

use super::packet::Partial;
use super::reason::DisconnectReason;
use super::socket::Socket;
use super::work::Work;

/// One connection's Engine.IO state.
pub(crate) struct Session {
    pub(crate) work: mpsc::UnboundedSender<Work>,
    pub(crate) events: Arc<Semaphore>,
    /// Sockets by namespace; written by the handler task, read by the reader for acks.
    pub(crate) sockets: Mutex<HashMap<String, Socket>>,
    pub(crate) partial: Mutex<Option<Partial>>,
    pub(crate) pong: AtomicBool,
    /// Set by whoever closes the connection for a reason the close code does not tell.
    pub(crate) reason: Mutex<Option<DisconnectReason>>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}
