//! Messages and close information.

pub use tungstenite::protocol::CloseFrame;
pub use tungstenite::protocol::frame::coding::CloseCode;
pub use tungstenite::{Bytes, Message, Utf8Bytes};

/// Who started the closing of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseInitiator {
    /// The client sent a close frame first.
    Client,
    /// The server did (`disconnect`, `close`, shutdown, a limit or a protocol error).
    Server,
    /// Nobody: the TCP connection went away without a closing handshake.
    Transport,
}

/// How a connection ended, as `on_close` sees it.
///
/// A TCP connection dropped without a close frame reaches `on_close` as code 1006 (RFC 6455
/// §7.1.5, "abnormal closure") with the reason filled in by the server, never as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code (1000 normal, 1001 going away, 1006 abnormal, ...).
    pub code: u16,
    /// The reason sent in the close frame, or the server's explanation for 1006.
    pub reason: String,
    /// Who started the close.
    pub initiator: CloseInitiator,
}

impl CloseInfo {
    pub(crate) fn new(code: u16, reason: impl Into<String>, initiator: CloseInitiator) -> Self {
        Self {
            code,
            reason: reason.into(),
            initiator,
        }
    }

    /// Whether the connection ended with a completed closing handshake.
    pub fn is_clean(&self) -> bool {
        self.initiator != CloseInitiator::Transport
    }
}

pub(crate) fn close_frame(code: u16, reason: &str) -> CloseFrame {
    // A close frame's payload is at most 125 bytes: 2 for the code, 123 for the reason
    // (RFC 6455 §5.5). Cut at a char boundary so the reason stays valid UTF-8.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(&reason[..end]),
    }
}
