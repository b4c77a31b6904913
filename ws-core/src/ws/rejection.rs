//! [`Rejection`]: a refused handshake, and how it is written (raw on the framework's own port,
//! as a hyper response on the mounted path).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::handshake::write_headers;
/// A refused handshake: the status, headers and body the client receives.
///
/// ```
/// use ws_core::{Rejection, http::StatusCode};
///
/// let r = Rejection::unauthorized("token required").header("WWW-Authenticate", "Bearer");
/// assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    status: StatusCode,
    /// Boxed: a `HeaderMap` is ~100 bytes, and a rejection travels in the `Err` of every
    /// handshake step's `Result`, which should stay small on the accepted path.
    headers: Box<HeaderMap>,
    body: String,
}

impl Rejection {
    /// Rejects with `status` and a text `body`.
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Box::default(),
            body: body.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(body: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, body)
    }

    /// 401 Unauthorized.
    pub fn unauthorized(body: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, body)
    }

    /// 403 Forbidden.
    pub fn forbidden(body: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, body)
    }

    /// Adds a response header; an invalid name or value is ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            self.headers.append(name, value);
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// A short label for metrics: the status code.
    pub(crate) fn reason_label(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            408 => "timeout",
            426 => "upgrade_required",
            429 => "rate_limited",
            431 => "header_too_large",
            500 => "internal_error",
            503 => "over_capacity",
            _ => "rejected",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl std::error::Error for Rejection {}

impl Rejection {
    /// The rejection as a hyper response, for the mounted path.
    pub(crate) fn to_http(&self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(Bytes::from(self.body.clone())));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        for (name, value) in self.headers.iter() {
            headers.insert(name, value.clone());
        }
        response
    }
}

/// Writes `rejection` as a complete HTTP response and closes the write side.
pub(crate) async fn write_rejection<S: AsyncWrite + Unpin>(stream: &mut S, rejection: &Rejection) {
    let mut out = Vec::with_capacity(256 + rejection.body.len());
    let reason = rejection.status.canonical_reason().unwrap_or("");
    out.extend_from_slice(
        format!("HTTP/1.1 {} {reason}\r\n", rejection.status.as_u16()).as_bytes(),
    );
    if !rejection.headers.contains_key(http::header::CONTENT_TYPE) {
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n",
            rejection.body.len()
        )
        .as_bytes(),
    );
    write_headers(&mut out, &rejection.headers);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(rejection.body.as_bytes());
    // The client may already be gone; there is nobody left to tell.
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}
