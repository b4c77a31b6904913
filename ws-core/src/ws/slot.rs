//! A WebSocket server's open connections: how many there may be, the settings their sessions
//! run with, and the node state their tasks report to when they end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::config::ServerSettings;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::ws::client_caps::ClientCaps;
use crate::ws::codec::Limits;

/// What the connections of one WebSocket server share with each other.
#[derive(Debug)]
pub(crate) struct Slots {
    /// The server's name, as its connections report it.
    pub(crate) server: Arc<str>,
    pub(crate) settings: SessionSettings,
    /// Where a connection is removed from when its session ends.
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    /// The per-client caps, when configured.
    pub(crate) clients: Option<ClientCaps>,
    max_connections: usize,
    open: AtomicUsize,
}

impl Slots {
    pub(crate) fn new(
        server: &str,
        settings: &ServerSettings,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            server: Arc::from(server),
            settings: SessionSettings::new(settings),
            registry,
            metrics,
            clients: ClientCaps::new(settings),
            max_connections: settings.max_connections,
            open: AtomicUsize::new(0),
        }
    }

    /// Takes a slot; `None` (and no slot) when the server is full.
    pub(crate) fn take(self: &Arc<Self>) -> Option<OpenSlot> {
        let slot = OpenSlot(self.clone());
        let taken = self.open.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .live_connections
            .fetch_add(1, Ordering::Relaxed);
        (taken < self.max_connections).then_some(slot)
    }
}

/// A slot among the server's open connections, given back when the connection ends, however it
/// ends. Shutdown waits for every slot to come back.
#[derive(Debug)]
pub(crate) struct OpenSlot(Arc<Slots>);

impl OpenSlot {
    /// The server this slot belongs to.
    pub(crate) fn server(&self) -> &Slots {
        &self.0
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0
            .metrics
            .live_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a session needs besides the socket and the handler; one per server.
#[derive(Debug)]
pub(crate) struct SessionSettings {
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) limits: Limits,
    /// Bytes gathered for the socket before the outbound queue is left alone until they drain.
    pub(crate) write_buffer_size: usize,
    /// Deflate level of permessage-deflate.
    pub(crate) compression_level: u8,
    /// Messages shorter than this are sent uncompressed.
    pub(crate) compression_threshold: u32,
}

impl SessionSettings {
    pub(crate) fn new(settings: &ServerSettings) -> Self {
        Self {
            ping_interval: (settings.ping_interval_ms > 0)
                .then(|| Duration::from_millis(settings.ping_interval_ms)),
            close_timeout: Duration::from_millis(settings.close_timeout_ms),
            limits: settings.limits(),
            write_buffer_size: settings.write_buffer_size,
            // Validated to be 0 to 9.
            compression_level: settings.compression.level.min(9) as u8,
            compression_threshold: u32::try_from(settings.compression.threshold)
                .unwrap_or(u32::MAX),
        }
    }
}
