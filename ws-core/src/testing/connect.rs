//! [`Connect`]: a test connection with headers, cookies, subprotocols and a timeout, without
//! tungstenite's types; [`ConnectError`]: why it failed.

use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{DEFAULT_TIMEOUT, TestClient};

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
    timeout: Duration,
}

impl Connect {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
            cookies: Vec::new(),
            protocols: Vec::new(),
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
        for (name, value) in extra {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
            let value = HeaderValue::from_str(&value).map_err(|e| invalid(&e))?;
            request.headers_mut().append(name, value);
        }
        let connecting = tokio_tungstenite::connect_async(request);
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
        let protocol = selected_protocol(&response);
        Ok(TestClient::new(ws, protocol))
    }
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
