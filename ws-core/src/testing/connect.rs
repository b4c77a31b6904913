//! [`Connect`]: a test connection with headers, cookies, subprotocols and a timeout, without
//! tungstenite's types; [`ConnectError`]: why it failed.

use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;

use super::{DEFAULT_TIMEOUT, TestClient, TestStream};
use crate::permessage_deflate::{DeflateStream, OFFER};

/// Why a test connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The server answered the upgrade with an HTTP status instead of `101`.
    #[error("the server rejected the handshake with {status}: {body}")]
    Rejected {
        /// The status, e.g. 401 from an `on_handshake` that refused.
        status: StatusCode,
        /// The response's headers.
        headers: http::HeaderMap,
        /// The response's body, as text.
        body: String,
    },
    /// The URL, a header or a cookie is not valid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No handshake within the timeout.
    #[error("no handshake within {0:?}")]
    Timeout(Duration),
    /// The connection failed otherwise (refused, reset, not WebSocket).
    #[error("connecting failed: {0}")]
    Failed(String),
}

/// A test connection being set up: `TestClient::build(url)` or `TestServer::build(server, path)`,
/// then options, then [`Connect::connect`].
///
/// ```no_run
/// use ws_core::testing::{ConnectError, TestClient};
/// use ws_core::http::StatusCode;
///
/// # async fn demo() {
/// let refused = TestClient::build("ws://127.0.0.1:9502/private")
///     .header("authorization", "Bearer wrong")
///     .connect()
///     .await
///     .unwrap_err();
/// assert!(matches!(refused, ConnectError::Rejected { status: StatusCode::UNAUTHORIZED, .. }));
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a `Connect` does nothing until `.connect().await`"]
pub struct Connect {
    url: String,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    protocols: Vec<String>,
    deflate: bool,
    timeout: Duration,
}

impl Connect {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
            cookies: Vec::new(),
            protocols: Vec::new(),
            deflate: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds a header to the upgrade request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a cookie (all of them go in one `Cookie` header).
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.to_string(), value.to_string()));
        self
    }

    /// Offers a subprotocol; call again to offer several, in order of preference.
    pub fn protocol(mut self, protocol: &str) -> Self {
        self.protocols.push(protocol.to_string());
        self
    }

    /// Offers permessage-deflate (RFC 7692) as browsers do. When the server agrees, messages are
    /// compressed and inflated on the way: [`TestClient::send`] and [`TestClient::recv`] see
    /// them plain, [`TestClient::extension`] states the agreement and
    /// [`TestClient::wire_bytes_received`] what arrived on the wire.
    ///
    /// ```no_run
    /// # async fn demo(server: ws_core::testing::TestServer) {
    /// let mut client = server.build("ws", "/").deflate().connect().await.unwrap();
    /// assert!(client.extension().is_some_and(|agreed| agreed.starts_with("permessage-deflate")));
    /// let chat = r#"{"type":"message","room":"lobby","text":"hello hello hello"}"#.repeat(8);
    /// client.send(chat.clone()).await;
    /// client.assert_push(chat.clone()).await;
    /// assert!(client.wire_bytes_received() < chat.len() as u64);
    /// # }
    /// ```
    pub fn deflate(mut self) -> Self {
        self.deflate = true;
        self
    }

    /// How long the TCP connect and the handshake may take together ([`DEFAULT_TIMEOUT`] by
    /// default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects.
    ///
    /// # Errors
    /// [`ConnectError`]: the server's refusal with its status and body, an invalid option, a
    /// timeout, or a failed connection.
    pub async fn connect(self) -> Result<TestClient, ConnectError> {
        let invalid = |e: &dyn std::fmt::Display| ConnectError::InvalidRequest(e.to_string());
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| invalid(&e))?;
        let mut extra: Vec<(String, String)> = self.headers;
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            extra.push(("cookie".into(), cookies.join("; ")));
        }
        if !self.protocols.is_empty() {
            extra.push(("sec-websocket-protocol".into(), self.protocols.join(", ")));
        }
        if self.deflate {
            extra.push(("sec-websocket-extensions".into(), OFFER.into()));
        }
        for (name, value) in extra {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
            let value = HeaderValue::from_str(&value).map_err(|e| invalid(&e))?;
            request.headers_mut().append(name, value);
        }
        let connecting = handshake(request);
        let (ws, response) = match tokio::time::timeout(self.timeout, connecting).await {
            Err(_) => return Err(ConnectError::Timeout(self.timeout)),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let (parts, body) = (*response).into_parts();
                return Err(ConnectError::Rejected {
                    status: parts.status,
                    headers: parts.headers,
                    body: String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned(),
                });
            }
            Ok(Err(tungstenite::Error::Url(e))) => return Err(invalid(&e)),
            Ok(Err(e)) => return Err(ConnectError::Failed(e.to_string())),
            Ok(Ok(connected)) => connected,
        };
        Ok(TestClient::new(ws, &response))
    }
}

/// Opens the TCP connection and does the upgrade through a [`DeflateStream`], which applies
/// permessage-deflate when the request offered it and the server agreed.
pub(super) async fn handshake(
    request: tungstenite::handshake::client::Request,
) -> Result<(TestStream, tungstenite::handshake::client::Response), tungstenite::Error> {
    use tungstenite::error::UrlError;
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        // The test client speaks plain ws:// to an app on this machine.
        return Err(tungstenite::Error::Url(UrlError::UnsupportedUrlScheme));
    }
    let host = uri
        .host()
        .ok_or(tungstenite::Error::Url(UrlError::NoHostName))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let socket = TcpStream::connect((host.as_str(), port)).await?;
    // Tests send small messages and wait for replies: no waiting for delayed ACKs.
    socket.set_nodelay(true)?;
    let stream = DeflateStream::new(MaybeTlsStream::Plain(socket));
    tokio_tungstenite::client_async(request, stream).await
}

/// The subprotocol a `101` response selected.
pub(super) fn selected_protocol(
    response: &tungstenite::handshake::client::Response,
) -> Option<String> {
    response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
