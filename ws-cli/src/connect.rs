//! Building the upgrade request and opening a connection, shared by `client` and `bench`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response, generate_key};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{
    COOKIE, HeaderName, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use ws_core::permessage_deflate::DeflateStream;

/// The stream type every connection uses. `MaybeTlsStream` rather than a bare
/// `TcpStream` so that enabling a TLS feature for `wss://` changes no signature.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The stream of `ws-cli client`: permessage-deflate is applied between tungstenite and the
/// socket (above TLS) when `--deflate` offered it and the server agreed.
pub(crate) type ClientStream = WebSocketStream<DeflateStream<MaybeTlsStream<TcpStream>>>;

/// Handshake bodies longer than this are left out of the error line: a whole
/// HTML error page would drown the status, which is what the user needs first.
const MAX_BODY_IN_ERROR: usize = 200;

/// Extra request data on top of the URL.
#[derive(Debug, Default, Clone)]
pub(crate) struct RequestOptions {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cookies: Vec<String>,
    pub(crate) subprotocols: Vec<String>,
}

/// Builds the upgrade request, rejecting schemes we cannot speak yet.
pub(crate) fn build_request(url: &str, opts: &RequestOptions) -> anyhow::Result<Request> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("ws" | "wss") => {}
        _ => bail!("invalid URL {url:?}: expected ws://HOST[:PORT]/PATH or wss://..."),
    }
    let mut request = url
        .into_client_request()
        .with_context(|| format!("invalid URL {url:?}"))?;
    let headers = request.headers_mut();
    for (name, value) in &opts.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .with_context(|| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .with_context(|| format!("invalid value for header {name}"))?;
        headers.append(name, value);
    }
    if !opts.cookies.is_empty() {
        let joined = opts.cookies.join("; ");
        let value = HeaderValue::from_str(&joined).context("invalid cookie")?;
        headers.append(COOKIE, value);
    }
    if !opts.subprotocols.is_empty() {
        let joined = opts.subprotocols.join(", ");
        let value = HeaderValue::from_str(&joined).context("invalid subprotocol")?;
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    Ok(request)
}

/// A copy of `template` with its own `Sec-WebSocket-Key`, for opening many
/// connections from one parsed request without every handshake looking identical.
pub(crate) fn fresh_request(template: &Request) -> Request {
    let mut request = template.clone();
    if let Ok(key) = HeaderValue::from_str(&generate_key()) {
        request.headers_mut().insert(SEC_WEBSOCKET_KEY, key);
    }
    request
}

/// Why a connection could not be opened, rendered as a single line.
#[derive(Debug)]
pub(crate) enum ConnectError {
    Timeout(Duration),
    Rejected {
        status: String,
        body: Option<String>,
    },
    Unreachable {
        target: String,
        err: std::io::Error,
    },
    Other(WsError),
    /// A handshake the load generator's own upgrade could not complete.
    Failed(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(after) => write!(f, "handshake timed out after {}ms", after.as_millis()),
            Self::Rejected { status, body } => {
                write!(f, "handshake rejected: {status}")?;
                match body {
                    Some(body) => write!(f, ": {body}"),
                    None => Ok(()),
                }
            }
            Self::Unreachable { target, err } => write!(f, "cannot connect to {target}: {err}"),
            Self::Other(err) => write!(f, "handshake failed: {err}"),
            Self::Failed(reason) => write!(f, "handshake failed: {reason}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<WsError> for ConnectError {
    fn from(err: WsError) -> Self {
        match err {
            WsError::Http(response) => {
                let status = response.status();
                let status = match status.canonical_reason() {
                    Some(reason) => format!("{} {reason}", status.as_u16()),
                    None => status.as_u16().to_string(),
                };
                let body = response.body().as_deref().and_then(short_body);
                Self::Rejected { status, body }
            }
            other => Self::Other(other),
        }
    }
}

/// The body as one line, if it is short text; anything else is not worth printing.
pub(crate) fn short_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.len() > MAX_BODY_IN_ERROR {
        return None;
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Opens one connection with Nagle disabled: both the interactive client and the
/// pipelined benchmark write small frames and must not wait for delayed ACKs.
pub(crate) async fn connect(
    request: Request,
    config: Option<WebSocketConfig>,
    timeout: Duration,
) -> Result<(WsStream, Response), ConnectError> {
    let target = request
        .uri()
        .authority()
        .map_or_else(String::new, |authority| authority.to_string());
    let attempt = tokio_tungstenite::connect_async_with_config(request, config, true);
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(WsError::Io(err))) => Err(ConnectError::Unreachable { target, err }),
        Ok(Err(err)) => Err(ConnectError::from(err)),
        Err(_) => Err(ConnectError::Timeout(timeout)),
    }
}

/// Opens one connection the way [`connect`] does, with a [`DeflateStream`] between tungstenite
/// and the socket, and TLS below it for a `wss://` URL (`tls`).
pub(crate) async fn connect_client(
    request: Request,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(ClientStream, Response), ConnectError> {
    let attempt = async {
        let socket = open_socket(&request, tls).await?;
        tokio_tungstenite::client_async(request, DeflateStream::new(socket))
            .await
            .map_err(|err| match err {
                WsError::Io(err) => ConnectError::Failed(err.to_string()),
                other => ConnectError::from(other),
            })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ConnectError::Timeout(timeout)))
}

/// The TCP connection of `request`'s URL, with the TLS handshake done when `tls` is given.
async fn open_socket(
    request: &Request,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<MaybeTlsStream<TcpStream>, ConnectError> {
    let uri = request.uri();
    let host = uri.host().unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let target = format!("{host}:{port}");
    // An IPv6 literal is bracketed in the URL and bare in a socket address and a server name.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let socket =
        TcpStream::connect((bare_host, port))
            .await
            .map_err(|err| ConnectError::Unreachable {
                target: target.clone(),
                err,
            })?;
    socket
        .set_nodelay(true)
        .map_err(|err| ConnectError::Unreachable { target, err })?;
    let Some(config) = tls else {
        return Ok(MaybeTlsStream::Plain(socket));
    };
    let name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
        .map_err(|err| ConnectError::Failed(format!("invalid server name {bare_host:?}: {err}")))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, socket)
        .await
        .map_err(|err| ConnectError::Failed(format!("TLS handshake: {err}")))?;
    Ok(MaybeTlsStream::Rustls(stream))
}

/// Splits `K:V` (or `K: V`) into a header pair.
pub(crate) fn parse_header(raw: &str) -> Result<(String, String), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("expected NAME:VALUE, got {raw:?}"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("empty header name in {raw:?}"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// Accepts `k=v` only, so a typo like `--cookie session` fails loudly instead of
/// sending a cookie the server will ignore.
pub(crate) fn parse_cookie(raw: &str) -> Result<String, String> {
    match raw.split_once('=') {
        Some((name, _)) if !name.trim().is_empty() => Ok(raw.trim().to_owned()),
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}
