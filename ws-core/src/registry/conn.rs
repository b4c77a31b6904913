//! [`ConnShared`]: what the registry and every pusher share of one live connection.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::ws::codec::Outgoing;
use crate::ws::context::Context;
use crate::ws::liveness::Liveness;
use crate::ws::message::{CloseFrame, Message};
use crate::ws::outbox::{Outbox, Refusal};
use crate::{Fd, SendError};

/// How a connection compresses what it is sent, as a room push needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Compression {
    /// Nothing is compressed.
    #[default]
    Off,
    /// Each message on its own: a frame compressed once serves every member with the same
    /// parameters.
    Shared(Outgoing),
    /// With server context takeover: the connection's task compresses with its own state.
    PerConnection(Outgoing),
}

/// What the registry keeps of one live connection.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub(crate) fd: Fd,
    pub(crate) outbox: Outbox,
    pub(crate) context: Context,
    pub(crate) server: Arc<str>,
    pub(crate) route: Arc<str>,
    /// Whether the client was heard from lately, for the heartbeat sweep.
    pub(crate) liveness: Liveness,
    /// permessage-deflate, as the handshake agreed on it.
    pub(crate) compression: Compression,
    /// The rooms this connection joined, so closing it leaves them without a scan.
    pub(super) rooms: Mutex<Vec<Arc<str>>>,
}

impl ConnShared {
    pub(crate) fn new(
        fd: Fd,
        outbox: Outbox,
        context: Context,
        server: Arc<str>,
        route: Arc<str>,
    ) -> Self {
        Self {
            fd,
            outbox,
            context,
            server,
            route,
            liveness: Default::default(),
            compression: Compression::Off,
            rooms: Mutex::new(Vec::new()),
        }
    }

    /// The connection compresses what it is sent as `compression` says.
    pub(crate) fn compressing(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    pub(crate) fn push(&self, message: Message) -> Result<(), SendError> {
        self.outbox.push(message).map_err(|refusal| match refusal {
            Refusal::Closed => SendError::NotConnected(self.fd),
            Refusal::Full => SendError::Backpressure(self.fd),
        })
    }

    pub(crate) fn close(&self, frame: CloseFrame) -> Result<(), SendError> {
        self.outbox
            .close(frame)
            .map_err(|_| SendError::NotConnected(self.fd))
    }
}
