//! The HTTP/1.1 upgrade (RFC 6455 §4.2): reading the request head, checking it, answering.
//!
//! Hand-written over `httparse` rather than a full HTTP server because the framework decides
//! every outcome itself (404 for an unknown path, 426 for a plain HTTP request, 431 for an
//! oversized head, 503 over the connection limit) and because an upgrade then continues on the
//! very same socket with no extra buffering layer.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use http_body_util::Full;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::Context;
pub use crate::ws::rejection::Rejection;
pub(crate) use crate::ws::rejection::write_rejection;
use crate::ws::request::Request;

/// Most headers an upgrade request may carry.
const MAX_HEADERS: usize = 64;

/// What a handshake hook can add to an accepted upgrade.
#[derive(Debug, Default)]
pub struct Handshake {
    context: Context,
    headers: HeaderMap,
    protocol: Option<String>,
}

impl Handshake {
    /// The context the connection will have; values set here are seen by `on_open` onwards.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Adds a header to the `101 Switching Protocols` response; an invalid one is ignored.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.append(name, value);
        }
        self
    }

    /// The subprotocol selected for this connection, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    pub(crate) fn into_context(self) -> Context {
        self.context
    }
}

/// A parsed upgrade request, before routing.
#[derive(Debug)]
pub(crate) struct Upgrade {
    pub(crate) request: Request,
    key: String,
    offered_protocols: Vec<String>,
    /// Bytes read past the request head: the client's first frames.
    pub(crate) leftover: Vec<u8>,
}

/// A plain request whose head was read: what reading its body needs.
#[derive(Debug)]
pub(crate) struct PlainHead {
    pub(crate) request: Request,
    /// Bytes read past the head: the start of the body.
    pub(crate) leftover: Vec<u8>,
}

/// Why the head could not become an upgrade.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The client went away or sent nothing useful; nothing to answer.
    Gone,
    /// Answer this and close.
    Reject(Rejection),
    /// A plain HTTP request, not an upgrade: a route that takes them (`plain.rs`) answers it, any
    /// other gets [`upgrade_required`].
    Plain(Box<PlainHead>),
}

/// The answer to a plain HTTP request on a route that takes only upgrades.
pub(crate) fn upgrade_required() -> Rejection {
    Rejection::new(
        StatusCode::UPGRADE_REQUIRED,
        "this is a WebSocket server: connect with a WebSocket client\n",
    )
    .header("Upgrade", "websocket")
}

pub(crate) async fn read_upgrade<S: AsyncRead + Unpin>(
    stream: &mut S,
    peer: Option<SocketAddr>,
    max_header_bytes: usize,
    timeout: Duration,
) -> Result<Upgrade, HeadError> {
    match tokio::time::timeout(timeout, read_head(stream, peer, max_header_bytes)).await {
        Ok(result) => result,
        Err(_) => Err(HeadError::Reject(Rejection::new(
            StatusCode::REQUEST_TIMEOUT,
            "handshake timed out",
        ))),
    }
}

async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    peer: Option<SocketAddr>,
    max_header_bytes: usize,
) -> Result<Upgrade, HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let leftover = buf[head_len..].to_vec();
                return match check(&parsed, peer) {
                    Ok(upgrade) => Ok(Upgrade {
                        leftover,
                        ..upgrade
                    }),
                    Err(HeadError::Plain(mut head)) => {
                        head.leftover = leftover;
                        Err(HeadError::Plain(head))
                    }
                    Err(error) => Err(error),
                };
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Reject(Rejection::new(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    format!("more than {MAX_HEADERS} headers"),
                )));
            }
            Err(e) => {
                return Err(HeadError::Reject(Rejection::bad_request(format!(
                    "malformed HTTP request: {e}"
                ))));
            }
        }
        if buf.len() >= max_header_bytes {
            return Err(HeadError::Reject(Rejection::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("request head larger than {max_header_bytes} bytes"),
            )));
        }
        let room = (max_header_bytes - buf.len()).min(4096);
        let start = buf.len();
        buf.resize(start + room, 0);
        let read = stream
            .read(&mut buf[start..])
            .await
            .map_err(|_| HeadError::Gone)?;
        buf.truncate(start + read);
        if read == 0 {
            return Err(HeadError::Gone);
        }
    }
}

fn header_has_token(headers: &HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn check(
    parsed: &httparse::Request<'_, '_>,
    peer: Option<SocketAddr>,
) -> Result<Upgrade, HeadError> {
    let bad = |body: &str| HeadError::Reject(Rejection::bad_request(body.to_string()));
    let method = Method::from_bytes(parsed.method.unwrap_or("GET").as_bytes())
        .map_err(|_| bad("invalid method"))?;
    let uri: Uri = parsed
        .path
        .unwrap_or("/")
        .parse()
        .map_err(|_| bad("invalid request target"))?;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad("invalid header value"))?;
        headers.append(name, value);
    }
    let request = Request::new(method, uri, headers, peer);
    validate(request, parsed.version == Some(1))
}

/// Checks an upgrade request that another HTTP server (axum, hyper) has already parsed: the
/// mounted path of [`WsService`](crate::WsService). The peer address is the request's
/// `SocketAddr` extension when a layer put one there.
pub(crate) fn from_parts(parts: &http::request::Parts) -> Result<Upgrade, Rejection> {
    let peer = parts.extensions.get::<SocketAddr>().copied();
    let request = Request::new(
        parts.method.clone(),
        parts.uri.clone(),
        parts.headers.clone(),
        peer,
    );
    validate(request, parts.version == http::Version::HTTP_11).map_err(|error| match error {
        HeadError::Reject(rejection) => rejection,
        HeadError::Plain(_) => upgrade_required(),
        HeadError::Gone => Rejection::bad_request("not a WebSocket upgrade\n"),
    })
}

/// RFC 6455 §4.2.1 on a parsed request; `http11` says it came as HTTP/1.1.
fn validate(request: Request, http11: bool) -> Result<Upgrade, HeadError> {
    let bad = |body: &str| HeadError::Reject(Rejection::bad_request(body.to_string()));
    let method = request.method().clone();
    let headers = request.headers();

    if !header_has_token(headers, http::header::UPGRADE, "websocket") {
        return Err(HeadError::Plain(Box::new(PlainHead {
            request,
            leftover: Vec::new(),
        })));
    }
    // RFC 6455 §4.2.1: a GET over HTTP/1.1 or later, with Host, Connection: Upgrade, a key and
    // version 13.
    if method != Method::GET {
        return Err(bad("a WebSocket upgrade must be a GET request"));
    }
    if !http11 {
        return Err(bad("a WebSocket upgrade needs HTTP/1.1"));
    }
    if !headers.contains_key(http::header::HOST) {
        return Err(bad("missing Host header"));
    }
    if !header_has_token(headers, http::header::CONNECTION, "upgrade") {
        return Err(bad("missing `Connection: Upgrade`"));
    }
    let version = headers
        .get(http::header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok());
    if version.map(str::trim) != Some("13") {
        return Err(HeadError::Reject(
            Rejection::new(
                StatusCode::UPGRADE_REQUIRED,
                "unsupported Sec-WebSocket-Version; this server speaks 13\n",
            )
            .header("Sec-WebSocket-Version", "13"),
        ));
    }
    let key = headers
        .get(http::header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|key| is_nonce(key))
        .ok_or_else(|| bad("missing or invalid Sec-WebSocket-Key"))?
        .to_string();
    let offered_protocols = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Ok(Upgrade {
        request,
        key,
        offered_protocols,
        leftover: Vec::new(),
    })
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: base64 of exactly 16 bytes (RFC 6455 §4.2.1).
fn is_nonce(key: &str) -> bool {
    use base64::Engine;
    // 16 bytes are 24 base64 characters; checking the length first bounds the decode.
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|nonce| nonce.len() == 16)
}

impl Upgrade {
    /// Picks exactly one protocol: the first the client offered (RFC 6455 §4.1 lists them in
    /// the client's order of preference) that the route supports. A client offering only
    /// protocols the route does not speak is refused here with a clear 400, rather than
    /// accepted without the header and left to fail on its own (RFC 6455 §4.2.2 allows both).
    pub(crate) fn select_protocol(
        &self,
        supported: &[String],
    ) -> Result<Option<String>, Rejection> {
        if self.offered_protocols.is_empty() || supported.is_empty() {
            return Ok(None);
        }
        self.offered_protocols
            .iter()
            .find(|p| supported.iter().any(|s| s == *p))
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                Rejection::bad_request(format!(
                    "none of the offered subprotocols ({}) is supported; supported: {}\n",
                    self.offered_protocols.join(", "),
                    supported.join(", ")
                ))
            })
    }

    pub(crate) fn handshake(&self, protocol: Option<String>) -> Handshake {
        Handshake {
            context: Context::default(),
            headers: HeaderMap::new(),
            protocol,
        }
    }

    /// The `101 Switching Protocols` response as a hyper response, for the mounted path.
    pub(crate) fn accept_http(&self, handshake: &Handshake) -> http::Response<Full<Bytes>> {
        let accept = tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("upgrade"),
        );
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        if let Some(protocol) = handshake
            .protocol
            .as_deref()
            .and_then(|p| HeaderValue::from_str(p).ok())
        {
            headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        for (name, value) in &handshake.headers {
            headers.append(name, value.clone());
        }
        response
    }

    /// The `101 Switching Protocols` response.
    pub(crate) fn accept_response(&self, handshake: &Handshake) -> Vec<u8> {
        let accept = tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.extend_from_slice(accept.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(protocol) = &handshake.protocol {
            out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
            out.extend_from_slice(protocol.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        write_headers(&mut out, &handshake.headers);
        out.extend_from_slice(b"\r\n");
        out
    }
}

pub(super) fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
