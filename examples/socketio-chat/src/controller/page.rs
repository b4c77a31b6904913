//! `http` server, `/` and `/static/*`: the page, its script and the vendored Socket.IO client,
//! compiled into the binary.

use ws_core::HttpError;
use ws_core::http::{StaticFile, StatusCode};
use ws_core::prelude::*;

/// The page's own files under `static/`, by file name.
const ASSETS: &[(&str, &[u8])] = &[
    ("chat.css", include_bytes!("../../static/chat.css")),
    ("chat.js", include_bytes!("../../static/chat.js")),
];

/// The official browser client, vendored from npm (`static/vendor/README.md`).
const VENDOR: &[(&str, &[u8])] = &[(
    "socket.io.min.js",
    include_bytes!("../../static/vendor/socket.io.min.js"),
)];

/// The page and its assets; no CDN, no files read at run time.
#[controller(prefix = "/")]
pub(crate) struct PageController;

#[routes]
impl PageController {
    /// `GET /`: the chat page.
    #[get("/")]
    async fn index(&self) -> StaticFile {
        StaticFile::named("index.html", include_bytes!("../../static/index.html"))
    }

    /// `GET /static/{file}`: the page's script or style.
    #[get("/static/{file}")]
    async fn asset(&self, file: String) -> Result<StaticFile, HttpError> {
        StaticFile::find(ASSETS, &file).ok_or_else(|| not_found(&file))
    }

    /// `GET /static/vendor/{file}`: the Socket.IO client bundle, and its licence, which
    /// travels with it (plain text: the name has no extension to take a type from).
    #[get("/static/vendor/{file}")]
    async fn vendor(&self, file: String) -> Result<StaticFile, HttpError> {
        match file.as_str() {
            "LICENSE" => Ok(StaticFile::new(
                include_bytes!("../../static/vendor/LICENSE"),
                "text/plain; charset=utf-8",
            )),
            _ => StaticFile::find(VENDOR, &file).ok_or_else(|| not_found(&file)),
        }
    }
}

fn not_found(file: &str) -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, format!("no file {file}"))
}
