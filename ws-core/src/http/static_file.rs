use bytes::Bytes;
use http::{HeaderValue, header};
use http_body_util::Full;

use super::{IntoResponse, Response};

/// A file compiled into the binary (`include_bytes!`), answered with its content type: how an
/// app serves its own page, scripts and styles without a CDN or a file system at run time.
///
/// The content type comes from the file name's extension ([`StaticFile::named`]) or is given
/// ([`StaticFile::new`]). Responses carry `Cache-Control: no-cache` (a browser revalidates, so a
/// new build is seen at once) and `X-Content-Type-Options: nosniff`.
///
/// ```
/// use ws_core::http::{IntoResponse, StaticFile};
///
/// const FILES: &[(&str, &[u8])] = &[
///     ("app.js", b"console.log('hi')"),
///     ("app.css", b"body { margin: 0 }"),
/// ];
///
/// let file = StaticFile::find(FILES, "app.js").expect("listed");
/// let response = file.into_response();
/// assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
/// assert!(StaticFile::find(FILES, "../secret").is_none());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StaticFile {
    body: &'static [u8],
    content_type: &'static str,
}

impl StaticFile {
    /// `body` served as `content_type`.
    pub const fn new(body: &'static [u8], content_type: &'static str) -> Self {
        Self { body, content_type }
    }

    /// `body` served with the content type of `name`'s extension.
    pub fn named(name: &str, body: &'static [u8]) -> Self {
        Self::new(body, content_type_of(name))
    }

    /// The entry of `files` (name, contents) called `name`; `None` for any other name, so a
    /// path from a request can never reach beyond the listed files.
    pub fn find(files: &[(&str, &'static [u8])], name: &str) -> Option<Self> {
        files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(file, body)| Self::named(file, body))
    }

    /// The content type served.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }
}

impl IntoResponse for StaticFile {
    fn into_response(self) -> Response {
        let mut response = Response::new(Full::new(Bytes::from_static(self.body)));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// The content type of a file name's extension; `application/octet-stream` when unknown.
fn content_type_of(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        for (name, expected) in [
            ("index.html", "text/html; charset=utf-8"),
            ("chat.JS", "text/javascript; charset=utf-8"),
            ("chat.css", "text/css; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("favicon.ico", "image/x-icon"),
            ("README", "application/octet-stream"),
        ] {
            assert_eq!(
                StaticFile::named(name, b"").content_type(),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn responses_carry_type_and_cache_headers() {
        let response = StaticFile::new(b"<p>hi</p>", "text/html; charset=utf-8").into_response();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}
