use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde::de::DeserializeOwned;

use super::form::{TextValue, form_value};
use super::{IntoResponse, Response, error_response};
use crate::Sender;

/// An HTTP request with its body read, as HTTP handlers see it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    params: Vec<(String, String)>,
    peer: Option<SocketAddr>,
    /// The client behind a trusted proxy, or the peer.
    client: Option<IpAddr>,
    sender: Sender,
}

/// A parameter that was missing or did not parse: answers 400 naming it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ParamRejection {
    /// The parameter's name.
    pub name: String,
    /// What is wrong with it.
    pub message: String,
}

impl IntoResponse for ParamRejection {
    fn into_response(self) -> Response {
        error_response(StatusCode::BAD_REQUEST, &self.message)
    }
}

impl HttpRequest {
    pub(crate) fn new(
        parts: http::request::Parts,
        body: Bytes,
        params: Vec<(String, String)>,
        peer: Option<SocketAddr>,
        sender: Sender,
    ) -> Self {
        Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            params,
            peer,
            client: None,
            sender,
        }
    }

    /// The request's pieces, to rebuild it as an `http::Request` for a tower layer.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_parts(
        self,
    ) -> (
        http::request::Parts,
        Bytes,
        Vec<(String, String)>,
        Option<SocketAddr>,
        Option<IpAddr>,
        Sender,
    ) {
        let mut request = http::Request::new(());
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        let (parts, ()) = request.into_parts();
        (
            parts,
            self.body,
            self.params,
            self.peer,
            self.client,
            self.sender,
        )
    }

    pub(crate) fn with_client(mut self, client: IpAddr) -> Self {
        self.client = Some(client);
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The path.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header `name`, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The address of the socket's other end: behind nginx, nginx's. See
    /// [`HttpRequest::client_addr`] for the client's.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The client's address: the peer's, or — when the peer is one of the server's
    /// `trusted_proxies` — the one it forwarded in `X-Forwarded-For` (or `Forwarded`).
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client
            .or_else(|| self.peer.map(|peer| crate::config::canonical(peer.ip())))
    }

    /// The app's [`Sender`].
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The route parameter `name` (`/user/{name}`).
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        form_value(self.uri.query()?, name).map(Cow::into_owned)
    }

    /// The cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(cookie::Cookie::split_parse_encoded)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    }

    fn content_type_is(&self, wanted: &str) -> bool {
        self.header(header::CONTENT_TYPE.as_str())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ParamRejection> {
        serde_json::from_slice(&self.body).map_err(|e| ParamRejection {
            name: "body".into(),
            message: format!("invalid JSON body: {e}"),
        })
    }

    /// Binds the parameter `name` the way Hyperf binds controller arguments: from the route
    /// parameters, then the query string, then a form or JSON body. A missing parameter is an
    /// error unless `T` is an `Option`.
    ///
    /// ```
    /// # let req = ws_core::http::HttpRequest::for_test("/server/send?fd=7");
    /// let fd: u64 = req.param("fd").unwrap();
    /// assert_eq!(fd, 7);
    /// let missing: Option<u64> = req.param("other").unwrap();
    /// assert_eq!(missing, None);
    /// assert_eq!(req.param::<u64>("other").unwrap_err().to_string(), "missing parameter `other`");
    /// ```
    pub fn param<T: DeserializeOwned>(&self, name: &str) -> Result<T, ParamRejection> {
        let invalid = |e: &dyn std::fmt::Display| ParamRejection {
            name: name.to_string(),
            message: format!("invalid parameter `{name}`: {e}"),
        };
        let text = self
            .path_param(name)
            .map(Cow::Borrowed)
            .or_else(|| form_value(self.uri.query()?, name))
            .or_else(|| {
                self.content_type_is("application/x-www-form-urlencoded")
                    .then(|| std::str::from_utf8(&self.body).ok())
                    .flatten()
                    .and_then(|body| form_value(body, name))
            });
        if let Some(text) = text {
            // Numbers and booleans parse from the text, as serde_urlencoded parses them.
            return T::deserialize(TextValue(text)).map_err(|e| invalid(&e));
        }
        if self.content_type_is("application/json")
            && let Ok(serde_json::Value::Object(mut object)) =
                serde_json::from_slice::<serde_json::Value>(&self.body)
            && let Some(value) = object.remove(name)
        {
            return serde_json::from_value(value).map_err(|e| invalid(&e));
        }
        serde_json::from_value(serde_json::Value::Null).map_err(|_| ParamRejection {
            name: name.to_string(),
            message: format!("missing parameter `{name}`"),
        })
    }

    /// A request for tests and doc examples (GET, no body, a single-node [`Sender`]).
    pub fn for_test(uri: &str) -> Self {
        let (parts, ()) = http::Request::get(uri)
            .body(())
            .unwrap_or_default()
            .into_parts();
        Self::new(parts, Bytes::new(), Vec::new(), None, Sender::standalone())
    }
}
