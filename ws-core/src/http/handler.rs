use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{HttpRequest, IntoResponse, Response};

/// A type-erased HTTP handler, as the router stores it.
pub type BoxedHandler = Arc<dyn Fn(HttpRequest) -> BoxFuture<'static, Response> + Send + Sync>;

/// An async function from [`HttpRequest`] to anything [`IntoResponse`]: what config-mode HTTP
/// routes take.
///
/// ```
/// use ws_core::http::HttpRequest;
///
/// let mut app = ws_core::App::new();
/// app.router("http").get("/hello/{name}", |req: HttpRequest| async move {
///     format!("Hello, {}!", req.path_param("name").unwrap_or("stranger"))
/// });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP handler",
    note = "an HTTP handler is an `async fn(HttpRequest) -> impl IntoResponse` or a closure `|req: HttpRequest| async move {{ ... }}`"
)]
pub trait HttpHandler: Send + Sync + 'static {
    /// Erases the handler's type.
    fn into_boxed(self) -> BoxedHandler;
}

impl<F, Fut, R> HttpHandler for F
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn into_boxed(self) -> BoxedHandler {
        Arc::new(move |req| {
            let fut = self(req);
            Box::pin(async move { fut.await.into_response() })
        })
    }
}
