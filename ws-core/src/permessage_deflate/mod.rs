//! permessage-deflate (RFC 7692) for WebSocket clients built on tungstenite, which speaks no
//! extension: [`DeflateStream`] sits between tungstenite and the socket (TCP, or TLS above it)
//! and rewrites frames, so the client's code sends and reads plain messages.
//!
//! The server's codec does the deflate work (the same pooled compressors, the same inflating
//! within a limit); this module adds the client's half: the offer, reading the server's answer,
//! and moving RSV1 and the `00 00 ff ff` tail between the wire and tungstenite.
//!
//! ```no_run
//! use ws_core::permessage_deflate::{DeflateStream, OFFER};
//! use tokio_tungstenite::tungstenite::client::IntoClientRequest;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut request = "ws://127.0.0.1:9502/".into_client_request()?;
//! request
//!     .headers_mut()
//!     .insert("sec-websocket-extensions", OFFER.parse()?);
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:9502").await?;
//! let (ws, _response) = tokio_tungstenite::client_async(request, DeflateStream::new(tcp)).await?;
//! if let Some(agreed) = ws.get_ref().negotiated() {
//!     println!("compressing: {}", agreed.header());
//! }
//! # Ok(())
//! # }
//! ```

mod frames;
mod stream;

pub use stream::DeflateStream;

use crate::ws::codec::{Deflater, Inflater, Params};

/// The offer a client sends in `Sec-WebSocket-Extensions`: what browsers send. The server
/// chooses context takeover; this client handles either.
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The deflate level a client compresses with: zlib's default, as browsers use.
const CLIENT_LEVEL: u8 = 6;

/// Largest message the client inflates, as tungstenite's default `max_message_size`: a server
/// cannot make it hold more by compressing well.
const MAX_INFLATED: usize = 64 << 20;

/// What the server agreed to in its `101` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    header: String,
    params: crate::ws::codec::Params,
}

impl Negotiated {
    /// The server's `Sec-WebSocket-Extensions` answer, e.g.
    /// `permessage-deflate; server_no_context_takeover; client_no_context_takeover`.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Whether the server compresses each message on its own.
    pub fn server_no_context_takeover(&self) -> bool {
        self.params.server_no_context_takeover
    }

    /// Whether this client compresses each message on its own.
    pub fn client_no_context_takeover(&self) -> bool {
        self.params.client_no_context_takeover
    }

    /// The window the server compresses with (8 to 15 bits).
    pub fn server_max_window_bits(&self) -> u8 {
        self.params.server_max_window_bits
    }

    /// The window this client compresses with (8 to 15 bits).
    pub fn client_max_window_bits(&self) -> u8 {
        self.params.client_max_window_bits
    }
}

/// Both directions without context takeover, at full windows: what a client that writes its own
/// frames (a load generator replaying compressed messages) agrees to.
const WITHOUT_TAKEOVER: Params = Params {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// `payload` as the payload of a compressed message a client sends without context takeover:
/// raw deflate, sync flush, the `00 00 ff ff` tail left off (RFC 7692 §7.2.1). For clients that
/// write their own frames; [`DeflateStream`] does this for a tungstenite client.
pub fn compress_message(payload: &[u8]) -> Vec<u8> {
    // A 15-bit window always gives a compressor; `None` is only for 8 bits.
    Deflater::new(WITHOUT_TAKEOVER.seen_by_client(), CLIENT_LEVEL, 0)
        .map(|mut deflater| Vec::from(deflater.compress(payload)))
        .unwrap_or_default()
}

/// Inflates the payloads of compressed messages sent without context takeover, one message at
/// a time, each within 64 MiB.
#[derive(Debug)]
pub struct MessageInflater {
    inflater: Inflater,
    out: Vec<u8>,
}

impl Default for MessageInflater {
    fn default() -> Self {
        Self {
            inflater: Inflater::new(WITHOUT_TAKEOVER.seen_by_client()),
            out: Vec::new(),
        }
    }
}

impl MessageInflater {
    /// The message `compressed` (a whole message's payload) carries; `None` when it is not
    /// valid deflate or inflates past 64 MiB.
    pub fn inflate(&mut self, compressed: &[u8]) -> Option<&[u8]> {
        self.out.clear();
        self.inflater
            .inflate(compressed, true, &mut self.out, MAX_INFLATED)
            .ok()?;
        Some(&self.out)
    }
}
