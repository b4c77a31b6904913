//! [`TestClient`]: a real WebSocket client over TCP with assertion helpers whose failures name
//! the test's own line.

use std::future::Future;
use std::panic::Location;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Connect, DEFAULT_TIMEOUT};
use crate::Message;
use crate::permessage_deflate::DeflateStream;

/// The stream under a [`TestClient`]: tungstenite over a [`DeflateStream`], which does
/// permessage-deflate when [`Connect::deflate`] offered it and the server agreed.
pub type TestStream = WebSocketStream<DeflateStream<MaybeTlsStream<TcpStream>>>;

/// A real WebSocket client over TCP with assertion helpers.
///
/// The helpers are plain functions returning futures, marked `#[track_caller]`: the place they
/// are called from is captured before the future runs, so a failing assertion's panic message
/// starts with the test's `file:line`, not with a line of this crate.
#[derive(Debug)]
pub struct TestClient {
    ws: TestStream,
    protocol: Option<String>,
    response_headers: http::HeaderMap,
}

impl TestClient {
    pub(super) fn new(ws: TestStream, response: &tungstenite::handshake::client::Response) -> Self {
        Self {
            ws,
            protocol: super::connect::selected_protocol(response),
            response_headers: response.headers().clone(),
        }
    }

    /// Connects to `url`.
    ///
    /// # Panics
    /// When the handshake fails.
    #[track_caller]
    pub fn connect(url: &str) -> impl Future<Output = Self> + use<> {
        let at = Location::caller();
        let connecting = Connect::new(url.to_string()).connect();
        let url = url.to_string();
        async move {
            connecting
                .await
                .unwrap_or_else(|e| panic!("{at}: connecting to {url} failed: {e}"))
        }
    }

    /// A connection with headers, cookies, subprotocols or a timeout of its own; see [`Connect`].
    pub fn build(url: &str) -> Connect {
        Connect::new(url.to_string())
    }

    /// Connects with a tungstenite request (the escape hatch; [`TestClient::build`] needs no
    /// tungstenite types).
    ///
    /// # Errors
    /// The handshake error, e.g. an HTTP status the server rejected with.
    pub async fn connect_request(
        request: tungstenite::handshake::client::Request,
    ) -> Result<(Self, tungstenite::handshake::client::Response), tungstenite::Error> {
        let (ws, response) = super::connect::handshake(request).await?;
        Ok((Self::new(ws, &response), response))
    }

    /// The subprotocol the server selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters the server agreed to, as its `Sec-WebSocket-Extensions`
    /// answer states them (e.g. `permessage-deflate; server_no_context_takeover;
    /// client_no_context_takeover`); `None` when messages go uncompressed. Offer the extension
    /// with [`Connect::deflate`].
    pub fn extension(&self) -> Option<&str> {
        self.ws.get_ref().negotiated().map(|agreed| agreed.header())
    }

    /// The headers of the server's `101` response.
    pub fn response_headers(&self) -> &http::HeaderMap {
        &self.response_headers
    }

    /// Bytes of frames this client has written to the socket since the handshake: with
    /// compression agreed, what the messages sent cost on the wire.
    pub fn wire_bytes_sent(&self) -> u64 {
        self.ws.get_ref().wire_bytes_sent()
    }

    /// Bytes of frames this client has read from the socket since the handshake (before
    /// inflating).
    pub fn wire_bytes_received(&self) -> u64 {
        self.ws.get_ref().wire_bytes_received()
    }

    /// Sends a message.
    ///
    /// # Panics
    /// When the connection is gone.
    #[track_caller]
    pub fn send(&mut self, message: impl Into<Message>) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        let message = message.into();
        async move {
            self.ws
                .send(message)
                .await
                .unwrap_or_else(|e| panic!("{at}: send failed: {e}"));
        }
    }

    /// The next text or binary message, skipping pings and pongs; `None` on close.
    ///
    /// # Panics
    /// After [`DEFAULT_TIMEOUT`] without a message.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = Option<Message>> + '_ {
        let at = Location::caller();
        self.next_message(at)
    }

    async fn next_message(&mut self, at: &'static Location<'static>) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(DEFAULT_TIMEOUT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{at}: no message within {DEFAULT_TIMEOUT:?}"));
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(message)) => return Some(message),
            }
        }
    }

    /// Asserts the next message equals `expected` (same opcode, same payload).
    ///
    /// # Panics
    /// When it differs, the connection closes, or nothing arrives in time; the message starts
    /// with the caller's `file:line`.
    #[track_caller]
    pub fn assert_push(&mut self, expected: impl Into<Message>) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        let expected = expected.into();
        async move {
            match self.next_message(at).await {
                Some(got) => assert!(
                    got == expected,
                    "{at}: unexpected message\n  expected: {expected:?}\n       got: {got:?}"
                ),
                None => panic!("{at}: connection closed while waiting for {expected:?}"),
            }
        }
    }

    /// Asserts the server closes the connection with `code`, skipping data messages.
    ///
    /// # Panics
    /// When it closes with another code, without a close frame, or not in time.
    #[track_caller]
    pub fn assert_closed(&mut self, code: u16) -> impl Future<Output = ()> + '_ {
        let at = Location::caller();
        async move {
            loop {
                let next = tokio::time::timeout(DEFAULT_TIMEOUT, self.ws.next())
                    .await
                    .unwrap_or_else(|_| panic!("{at}: not closed within {DEFAULT_TIMEOUT:?}"));
                match next {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        assert!(
                            u16::from(frame.code) == code,
                            "{at}: closed with {frame:?}, expected {code}"
                        );
                        // Reading on sends the client's half of the closing handshake.
                        let _ = tokio::time::timeout(DEFAULT_TIMEOUT, async {
                            while self.ws.next().await.is_some() {}
                        })
                        .await;
                        return;
                    }
                    Some(Ok(Message::Close(None))) => {
                        panic!("{at}: closed without a code, expected {code}")
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        panic!("{at}: connection failed instead of closing with {code}: {e}")
                    }
                    None => panic!("{at}: connection ended without a close frame, expected {code}"),
                }
            }
        }
    }

    /// Sends a close frame and waits for the server's.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(DEFAULT_TIMEOUT, async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }

    /// The underlying tungstenite stream, for anything the helpers do not cover.
    pub fn stream(&mut self) -> &mut TestStream {
        &mut self.ws
    }
}
