//! Who a socket is: its id, which every node can route to, and the private id of its session
//! in a namespace that recovers sessions.

use super::poll_session::new_sid;
use crate::{Connection, Fd};

/// Who a new socket is: a fresh one, or a recovered session.
pub(crate) struct Identity {
    pub(crate) id: String,
    pub(crate) pid: Option<String>,
    pub(crate) recovered: bool,
}

impl Identity {
    /// A fresh socket on `conn`, with a private id when its namespace recovers sessions.
    pub(crate) fn fresh(conn: &Connection, recovering: bool) -> Self {
        Self {
            id: socket_id(conn.fd()),
            // As unguessable as an Engine.IO sid: whoever knows it can take the session over.
            pid: recovering.then(new_sid),
            recovered: false,
        }
    }
}

/// A socket's id: its connection's fd, which names its node, so any node can reach it.
pub(crate) fn socket_id(fd: Fd) -> String {
    fd.to_string()
}
