//! CORS for cross-origin long-polling: the `cors_origins` of `[servers.settings.socketio]`.
//!
//! A browser page on another origin polls with credentials (cookies), so the answer names the
//! origin itself with `Access-Control-Allow-Credentials: true`; `*` is not allowed with
//! credentials (Fetch standard, CORS protocol).

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};

use crate::Request;
use crate::ws::plain::PlainResponse;

/// What the configured origins say of a request.
#[derive(Debug)]
pub(crate) enum Cors {
    /// No CORS headers: no list is configured, or the request names no origin.
    Silent,
    /// Answer with this origin allowed.
    Allow(HeaderValue),
}

/// An origin not in `cors_origins`.
#[derive(Debug)]
pub(crate) struct Forbidden(String);

impl Forbidden {
    /// The 403 the request gets.
    pub(crate) fn response(self) -> PlainResponse {
        let mut refused =
            http::Response::new(Bytes::from(format!("origin {} is not allowed\n", self.0)));
        *refused.status_mut() = StatusCode::FORBIDDEN;
        refused
    }
}

/// Checks the request's `Origin` against `allowed`.
pub(crate) fn check(allowed: &[String], request: &Request) -> Result<Cors, Forbidden> {
    let Some(origin) = request.header("origin") else {
        return Ok(Cors::Silent);
    };
    if allowed.is_empty() {
        return Ok(Cors::Silent);
    }
    let listed = allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    match HeaderValue::from_str(origin) {
        Ok(value) if listed => Ok(Cors::Allow(value)),
        _ => {
            tracing::debug!(
                origin,
                "socket.io polling from an origin not in cors_origins"
            );
            Err(Forbidden(origin.to_owned()))
        }
    }
}

impl Cors {
    /// Adds the CORS headers to `response`.
    pub(crate) fn apply(self, response: &mut PlainResponse) {
        let Cors::Allow(origin) = self else {
            return;
        };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The answer to a preflight `OPTIONS`: the methods polling uses and the headers asked for.
pub(crate) fn preflight(request: &Request) -> PlainResponse {
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    let asked = request
        .header("access-control-request-headers")
        .and_then(|h| HeaderValue::from_str(h).ok())
        .unwrap_or(HeaderValue::from_static("content-type"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// Whether `method` is a preflight.
pub(crate) fn is_preflight(method: &Method) -> bool {
    method == Method::OPTIONS
}
