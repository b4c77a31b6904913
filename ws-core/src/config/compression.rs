//! `[servers.settings.compression]`: permessage-deflate (RFC 7692) on a WebSocket server.

use serde::{Deserialize, Serialize};

/// `[servers.settings.compression]`: whether and how a WebSocket server compresses messages.
///
/// | key | default | what it does |
/// |---|---|---|
/// | `enabled` | `true` | negotiate permessage-deflate when the client offers it (every browser does) |
/// | `threshold` | 128 | messages shorter than this many bytes go out uncompressed |
/// | `level` | 1 | deflate level, 0 (store) to 9 (smallest, slowest) |
/// | `server_no_context_takeover` | `true` | each outgoing message is compressed on its own: no compressor is kept per connection, and a room push is compressed once for every member |
/// | `client_no_context_takeover` | `true` | clients are asked to compress each message on its own: no decompressor is kept per connection |
/// | `server_max_window_bits` | 15 | the window the server compresses with, 9 to 15 |
/// | `client_max_window_bits` | 15 | the largest window clients may compress with, when they let the server choose (8 to 15) |
///
/// With both `no_context_takeover` keys on (the default), an idle connection holds no
/// compression state at all: compressors and decompressors are pooled per worker thread and
/// borrowed for one message at a time. Context takeover compresses a stream of similar messages
/// better, at the memory cost per connection given in the compression guide.
///
/// ```
/// let config = ws_core::Config::from_toml_str(r#"
///     [[servers]]
///     name = "ws"
///     type = "websocket"
///     port = 9502
///     [servers.settings.compression]
///     threshold = 256
/// "#).unwrap();
/// let compression = &config.servers[0].settings.compression;
/// assert!(compression.enabled && compression.server_no_context_takeover);
/// assert_eq!(compression.threshold, 256);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionSettings {
    /// Whether the server accepts a permessage-deflate offer.
    pub enabled: bool,
    /// Messages shorter than this many bytes are sent uncompressed.
    pub threshold: usize,
    /// Deflate level, 0 to 9.
    pub level: u32,
    /// Compress each outgoing message on its own.
    pub server_no_context_takeover: bool,
    /// Ask clients to compress each message on its own.
    pub client_no_context_takeover: bool,
    /// Window bits the server compresses with, 9 to 15.
    pub server_max_window_bits: u8,
    /// Largest window bits clients may use when they offer to take a limit, 8 to 15.
    pub client_max_window_bits: u8,
}

impl Default for CompressionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            // Below ~100 bytes deflate's block overhead eats most of what it saves, for the
            // CPU of a compression.
            threshold: 128,
            // Level 1 takes a chat message of JSON to within a few bytes of level 6 at a
            // fraction of the CPU (docs/performance.md).
            level: 1,
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

impl CompressionSettings {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.level > 9 {
            return Err(("compression.level", format!("{} is not 0 to 9", self.level)));
        }
        if !(9..=15).contains(&self.server_max_window_bits) {
            return Err((
                "compression.server_max_window_bits",
                format!("{} is not 9 to 15", self.server_max_window_bits),
            ));
        }
        if !(8..=15).contains(&self.client_max_window_bits) {
            return Err((
                "compression.client_max_window_bits",
                format!("{} is not 8 to 15", self.client_max_window_bits),
            ));
        }
        Ok(())
    }
}
