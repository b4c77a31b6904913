//! [`Request`]: the upgrade request a WebSocket connection was opened with.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Method, Uri};

/// The HTTP upgrade request of a WebSocket connection, as `on_handshake` and `on_open` see it:
/// Swoole's `Request` with its `header`, `cookie`, `get` and `server` parts.
///
/// ```
/// use ws_core::Request;
///
/// let req = Request::builder("/chat?room=lobby")
///     .header("cookie", "username=alice; theme=dark")
///     .build();
/// assert_eq!(req.path(), "/chat");
/// assert_eq!(req.query("room").as_deref(), Some("lobby"));
/// assert_eq!(req.cookie("username").as_deref(), Some("alice"));
/// assert_eq!(req.cookie("missing"), None);
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    /// The client behind a trusted proxy; `None` when it is the peer.
    client: Option<IpAddr>,
    params: Vec<(String, String)>,
}

impl Request {
    pub(crate) fn new(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Self {
        Self {
            method,
            uri,
            headers,
            peer,
            client: None,
            params: Vec::new(),
        }
    }

    pub(crate) fn set_client(&mut self, client: IpAddr) {
        self.client = Some(client);
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// A request for tests and examples.
    pub fn builder(uri: &str) -> RequestBuilder {
        RequestBuilder {
            request: Request::new(
                Method::GET,
                uri.parse().unwrap_or_else(|_| Uri::from_static("/")),
                HeaderMap::new(),
                None,
            ),
        }
    }

    /// The method (always `GET` for an upgrade).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The path, without the query string.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The raw query string.
    pub fn query_string(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The first value of the query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.uri.query()?.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Every query parameter, percent-decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default()
    }

    /// The route parameter `name` (`/room/{name}`); the same accessor as
    /// [`HttpRequest::path_param`](crate::http::HttpRequest::path_param).
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The route parameter `name`: the old name of [`Request::path_param`].
    #[deprecated(
        since = "0.1.0",
        note = "use `path_param`, the name HTTP requests use too"
    )]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.path_param(name)
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header `name`, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The cookie `name`, percent-decoded.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(cookie::Cookie::split_parse_encoded)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    }

    /// The address of the socket's other end: behind nginx, nginx's. See
    /// [`Request::client_addr`] for the client's.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The client's address: the peer's, or — when the peer is one of the server's
    /// `trusted_proxies` — the one it forwarded in `X-Forwarded-For` (or `Forwarded`). The
    /// per-client caps count against this address.
    ///
    /// ```
    /// use ws_core::Request;
    ///
    /// let req = Request::builder("/").peer("192.0.2.7:50000".parse().unwrap()).build();
    /// assert_eq!(req.client_addr(), Some("192.0.2.7".parse().unwrap()));
    /// ```
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client
            .or_else(|| self.peer.map(|peer| crate::config::canonical(peer.ip())))
    }
}

/// Builds a [`Request`] for tests.
#[derive(Debug)]
pub struct RequestBuilder {
    request: Request,
}

impl RequestBuilder {
    /// Adds a header; invalid names or values are ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name),
            http::HeaderValue::try_from(value),
        ) {
            self.request.headers.append(name, value);
        }
        self
    }

    /// Sets the peer address (the socket's other end).
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.request.peer = Some(peer);
        self
    }

    /// Sets the client address, as a trusted proxy would have forwarded it.
    pub fn client_addr(mut self, client: IpAddr) -> Self {
        self.request.client = Some(client);
        self
    }

    /// The finished request.
    pub fn build(self) -> Request {
        self.request
    }
}
