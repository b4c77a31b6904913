//! A socket's session in the recovery store: written through as the socket changes, so that
//! its client recovers it from any node even when the node that held it crashed.

use tokio::time::Instant;

use super::recovery::entry::Saved;
use super::socket::Socket;

impl Socket {
    /// The private id of its session, when its namespace recovers sessions.
    pub(crate) fn pid(&self) -> Option<&str> {
        self.inner.pid.as_deref()
    }

    /// Writes its session — id, rooms, presence metadata — to the store, to live
    /// `max_disconnection_duration_ms` from now. Called when it connects, joins, leaves or is
    /// tracked, and when its transport is lost; a failure is logged, not returned: the socket
    /// itself is fine, only a recovery after a crash would find an older state.
    pub(crate) async fn keep_session(&self) {
        let Some(pid) = self.pid() else {
            return;
        };
        let inner = &self.inner;
        let mut rooms = vec![inner.id.clone()];
        rooms.extend(inner.joined.lock().iter().cloned());
        let saved = Saved {
            id: inner.id.clone(),
            namespace: inner.namespace.to_string(),
            rooms,
            presence: inner.presence.lock().as_deref().map(str::to_owned),
        };
        *inner.kept.lock() = Some(Instant::now());
        if let Err(error) = inner.recovery.keep(pid, &saved).await {
            tracing::warn!(id = %inner.id, %error, "cannot keep a socket.io session for recovery");
        }
    }

    /// Writes its session again once a third of its lifetime has passed since the last
    /// write, so a connected socket's session never expires under it.
    pub(crate) async fn refresh_session(&self) {
        let Some(lifetime) = self.inner.recovery.lifetime(&self.inner.namespace) else {
            return;
        };
        let due = self
            .inner
            .kept
            .lock()
            .is_none_or(|at| at.elapsed() >= lifetime / 3);
        if due {
            self.keep_session().await;
        }
    }

    /// Drops its session: it left on purpose, and nobody may recover it.
    pub(crate) async fn forget_session(&self) {
        let Some(pid) = self.pid() else {
            return;
        };
        let inner = &self.inner;
        if let Err(error) = inner.recovery.forget(&inner.namespace, pid).await {
            tracing::debug!(id = %inner.id, %error, "cannot drop a socket.io session; it expires by itself");
        }
    }
}
