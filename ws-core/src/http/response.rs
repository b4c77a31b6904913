use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;

/// An HTTP response.
pub type Response = http::Response<Full<Bytes>>;

/// Anything an HTTP handler may return: strings, `()`, [`Json`], `(StatusCode, T)`, a
/// [`Response`], or a `Result` of those whose error converts into a response.
///
/// ```
/// use ws_core::http::{IntoResponse, Json, StatusCode};
///
/// assert_eq!("".into_response().status(), 200);
/// assert_eq!((StatusCode::CREATED, "made").into_response().status(), 201);
/// let r = Json(serde_json::json!({"ok": true})).into_response();
/// assert_eq!(r.headers()["content-type"], "application/json");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an HTTP handler",
    note = "return a `String`, `&'static str`, `()`, `Json<T>`, `(StatusCode, T)`, a `Response`, or `Result<T, E>` of those"
)]
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

/// A JSON body: `Json(value)` answers `application/json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

// Constants, so each response copies a checked value instead of validating the text again.
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A 200 with `body`, typed when there is a body to type.
///
/// An empty body (`Ok(())`, `""`: the common answer of an endpoint that pushes) gets no
/// `Content-Type`: there is no content to describe (RFC 9110 §8.3), and leaving the header map
/// empty spares allocating it, ~4% of the instructions of a `/server/send` request.
fn with_type(body: impl Into<Bytes>, content_type: HeaderValue) -> Response {
    let body = body.into();
    let typed = !body.is_empty();
    let mut response = Response::new(Full::new(body));
    if typed {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        with_type(Bytes::new(), TEXT_PLAIN)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_type(Bytes::from_static(self.as_bytes()), TEXT_PLAIN)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_type(self, TEXT_PLAIN)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(self, OCTET_STREAM)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_type(self, OCTET_STREAM)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut response = ().into_response();
        *response.status_mut() = self;
        response
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => with_type(body, APPLICATION_JSON),
            Err(e) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot serialise response: {e}"),
            ),
        }
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        *response.status_mut() = self.0;
        response
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

impl IntoResponse for crate::Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "HTTP handler failed");
        }
        error_response(status, &self.to_string())
    }
}

impl IntoResponse for crate::SendError {
    fn into_response(self) -> Response {
        error_response(self.status(), &self.to_string())
    }
}

impl IntoResponse for crate::HttpError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

/// A JSON error body `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let mut response = Json(serde_json::json!({ "error": message })).into_response();
    *response.status_mut() = status;
    response
}
