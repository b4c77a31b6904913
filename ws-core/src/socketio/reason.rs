//! [`DisconnectReason`]: why a socket left its namespace.

/// Why a socket left its namespace, as `on_disconnect` receives it. Its text is the reason
/// Socket.IO's clients and servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed the connection.
    TransportClose,
    /// The connection dropped without a closing handshake.
    TransportError,
    /// The client stopped answering pings within `ping_interval_ms + ping_timeout_ms`.
    PingTimeout,
    /// The client sent a packet that is not of the protocol.
    ParseError,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server called [`Socket::disconnect`](super::Socket::disconnect).
    ServerNamespaceDisconnect,
    /// The server closed the connection (a remote `disconnect`, a limit).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl DisconnectReason {
    /// Whether a socket that left for this reason may be recovered: its transport was lost or
    /// closed under it, as Socket.IO's own list has it, rather than the client or the server
    /// leaving the namespace on purpose (or the client sending what does not parse).
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportClose
                | Self::TransportError
                | Self::PingTimeout
                | Self::ForcedServerClose
                | Self::ServerShuttingDown
        )
    }

    /// The reason's text, e.g. `"ping timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShuttingDown => "server shutting down",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
