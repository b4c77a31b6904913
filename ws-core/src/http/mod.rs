//! HTTP handlers: requests, responses and parameter binding.

mod form;
mod handler;
pub(crate) mod layer;
mod request;
pub(crate) mod response;
mod static_file;

pub use ::http::{Method, StatusCode};
pub use handler::{BoxedHandler, HttpHandler};
pub use layer::{BodyError, BoxBody, BoxError, HttpService};
pub use request::{HttpRequest, ParamRejection};
pub use response::{IntoResponse, Json, Response, error_response};
pub use static_file::StaticFile;
