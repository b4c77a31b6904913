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
        if let Some(error) = self.downcast_ref::<crate::SendError>() {
            return error.clone().into_response();
        }
        if let Some(error) = self.downcast_ref::<crate::HttpError>() {
            return error_response(error.status, &error.message);
        }
        if let Some(error) = self.downcast_ref::<super::ParamRejection>() {
            return error.clone().into_response();
        }
        // Anything else was not meant for the client (a database error may name a host, a
        // user, a query): it is logged in full under an id the answer carries.
        let id = error_id();
        tracing::error!(error_id = %id, error = %self, "HTTP handler failed");
        internal_error(&id)
    }
}

/// A short random id tying a 500 answer to its log line.
pub(crate) fn error_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Each `RandomState` is seeded afresh, so hashing nothing gives a new value every call.
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{:08x}", bits as u32)
}

/// 500 with a generic body carrying `id`; the details are in the log under that id.
pub(crate) fn internal_error(id: &str) -> Response {
    let mut response =
        Json(serde_json::json!({ "error": "internal error", "error_id": id })).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
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
