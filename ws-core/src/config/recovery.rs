//! `[servers.settings.socketio.recovery]`: Socket.IO connection state recovery.

use serde::{Deserialize, Serialize};

/// `[servers.settings.socketio.recovery]`: which namespaces keep a disconnected client's session
/// (its id and rooms) and the room and broadcast packets it misses, so that a client that lost
/// its transport and comes back in time — to any node — gets them, with `socket.recovered`.
///
/// Sessions and packets live where `[cluster]` points: Redis Streams for `redis://`, a NATS
/// JetStream stream for `nats://`, this process for `memory://`.
///
/// | key | default | what it does |
/// |---|---|---|
/// | `namespaces` | `[]` | the namespaces that recover sessions (e.g. `["/"]`); none by default |
/// | `max_disconnection_duration_ms` | 120,000 | how long a session waits for its client, and how long a packet is kept |
/// | `max_packets` | 10,000 | packets kept per namespace; the oldest go first |
///
/// ```
/// let config = ws_core::Config::from_toml_str(r#"
///     [[servers]]
///     name = "ws"
///     type = "websocket"
///     port = 9502
///     [servers.settings.socketio]
///     enabled = true
///     [servers.settings.socketio.recovery]
///     namespaces = ["/"]
/// "#).unwrap();
/// let recovery = &config.servers[0].settings.socketio.recovery;
/// assert_eq!(recovery.namespaces, ["/"]);
/// assert_eq!(recovery.max_disconnection_duration_ms, 120_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoverySettings {
    /// The namespaces whose sessions are recovered.
    pub namespaces: Vec<String>,
    /// How long a session outlives its transport, in milliseconds; packets older than this
    /// are dropped too, since no session could still ask for them.
    pub max_disconnection_duration_ms: u64,
    /// Packets kept per namespace, at most (approximately, for Redis: trimming is `~`).
    pub max_packets: usize,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            // Socket.IO's own default.
            max_disconnection_duration_ms: 120_000,
            max_packets: 10_000,
        }
    }
}

impl RecoverySettings {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(bad) = self.namespaces.iter().find(|n| !n.starts_with('/')) {
            return Err((
                "socketio.recovery.namespaces",
                format!("`{bad}` is no namespace: namespaces start with `/`"),
            ));
        }
        if self.max_disconnection_duration_ms == 0 {
            return Err((
                "socketio.recovery.max_disconnection_duration_ms",
                "must be greater than 0".into(),
            ));
        }
        if self.max_packets == 0 {
            return Err((
                "socketio.recovery.max_packets",
                "must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}
