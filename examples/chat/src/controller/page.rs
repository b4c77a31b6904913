//! `http` server, `/` and `/static/{file}`: the page, compiled into the binary.

use ws_core::HttpError;
use ws_core::http::{StaticFile, StatusCode};
use ws_core::prelude::*;

/// Everything under `static/`, by file name.
const ASSETS: &[(&str, &[u8])] = &[
    ("chat.css", include_bytes!("../../static/chat.css")),
    ("chat.js", include_bytes!("../../static/chat.js")),
    ("favicon.svg", include_bytes!("../../static/favicon.svg")),
];

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

    /// `GET /static/{file}`: a script, style or icon of the page.
    #[get("/static/{file}")]
    async fn asset(&self, file: String) -> Result<StaticFile, HttpError> {
        StaticFile::find(ASSETS, &file)
            .ok_or_else(|| HttpError::new(StatusCode::NOT_FOUND, format!("no file {file}")))
    }
}
