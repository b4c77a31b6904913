//! Tower layers on the framework's HTTP servers: the middleware story. [`HttpService`] is the
//! service a layer wraps; [`BoxBody`] and [`BoxError`] are its body and error types.
//!
//! A layer comes in two ways: for a whole server with [`App::layer`](crate::App::layer)
//! (config mode), or for one controller's routes with `#[controller(layer = path::to_fn)]`,
//! where `to_fn` returns the layer. Any layer whose service keeps the request body type and
//! answers `http::Response<B>` for a byte body fits: tower-http's trace, timeout, CORS,
//! compression, set-header, request-id. A response body a layer produces is read whole before
//! it is written, so streaming responses are not supported.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::{BoxedHandler, HttpRequest, Response, error_response};
use crate::RouteError;
use crate::config::{Config, ServerKind};

/// The error type of bodies and services behind a layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request and response body a layer sees.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BodyError>;

/// Why a body behind a layer failed. A named type rather than a [`BoxError`]: a trait object in
/// the body type trips rustc's higher-ranked `Send` checks on the futures that hold it.
#[derive(Debug)]
pub struct BodyError(BoxError);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The service a tower layer wraps on the framework's HTTP servers: routing and the handler
/// (for [`App::layer`](crate::App::layer)), or one controller's handler (for
/// `#[controller(layer = ..)]`). Cheap to clone.
#[derive(Clone)]
pub struct HttpService(
    BoxCloneSyncService<http::Request<BoxBody>, http::Response<BoxBody>, Infallible>,
);

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpService")
    }
}

impl tower::Service<http::Request<BoxBody>> for HttpService {
    type Response = http::Response<BoxBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<BoxBody>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<BoxBody>) -> Self::Future {
        self.0.call(request)
    }
}

/// A framework response as a layer sees it.
pub(crate) fn boxed_response(response: Response) -> http::Response<BoxBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
}

/// A body a layer sees.
pub(crate) fn boxed_body<B>(body: B) -> BoxBody
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(|error| BodyError(error.into())).boxed_unsync()
}

impl HttpService {
    /// A service answering with `answer`.
    pub(crate) fn from_fn<F>(answer: F) -> Self
    where
        F: Fn(http::Request<BoxBody>) -> BoxFuture<'static, http::Response<BoxBody>>
            + Send
            + Sync
            + 'static,
    {
        let answer = Arc::new(answer);
        Self(BoxCloneSyncService::new(tower::service_fn(
            move |request| {
                let future = answer(request);
                async move { Ok::<_, Infallible>(future.await) }
            },
        )))
    }

    /// `layer` around `self`; an error out of the layered service answers 500.
    fn layered<L, S, B>(self, layer: &L) -> Self
    where
        L: tower::Layer<HttpService, Service = S>,
        S: tower::Service<http::Request<BoxBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = layer.layer(self);
        Self::from_fn(move |request| {
            let service = service.clone();
            Box::pin(async move {
                match service.oneshot(request).await {
                    Ok(response) => response.map(boxed_body),
                    Err(error) => {
                        let error: BoxError = error.into();
                        tracing::error!(%error, "a tower layer failed the request");
                        boxed_response(error_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal error",
                        ))
                    }
                }
            })
        })
    }
}

/// A layer with its type erased: what it does to the service it wraps.
pub(crate) type LayerFn = Arc<dyn Fn(HttpService) -> HttpService + Send + Sync>;

pub(crate) fn erase<L, B>(layer: L) -> LayerFn
where
    L: tower::Layer<HttpService> + Send + Sync + 'static,
    L::Service: tower::Service<http::Request<BoxBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<http::Request<BoxBody>>>::Future: Send + 'static,
    <L::Service as tower::Service<http::Request<BoxBody>>>::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Arc::new(move |inner: HttpService| inner.layered(&layer))
}

/// The layers of [`App::layer`](crate::App::layer), by server, in the order they were added.
#[derive(Default)]
pub(crate) struct ServerLayers(Vec<(String, LayerFn)>);

impl ServerLayers {
    pub(crate) fn add(&mut self, server: &str, layer: LayerFn) {
        self.0.push((server.to_string(), layer));
    }

    /// Every layer names an `http` server of `config`.
    pub(crate) fn check(&self, config: &Config) -> Result<(), RouteError> {
        for (server, _) in &self.0 {
            if config.server(server).map(|s| s.kind) != Some(ServerKind::Http) {
                return Err(RouteError::LayerServer {
                    server: server.clone(),
                    config: config
                        .source
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "the config".into()),
                });
            }
        }
        Ok(())
    }

    /// The layers of server `name` as one: the first added innermost.
    pub(crate) fn take(&mut self, name: &str) -> Option<LayerFn> {
        let mine: Vec<LayerFn> = self
            .0
            .iter()
            .filter(|(server, _)| server == name)
            .map(|(_, layer)| layer.clone())
            .collect();
        if mine.is_empty() {
            return None;
        }
        Some(Arc::new(move |inner: HttpService| {
            mine.iter().fold(inner, |service, layer| layer(service))
        }))
    }
}

/// The layer of one `#[controller(layer = ..)]`, with its type erased. Generated code builds
/// it; not a public API.
#[doc(hidden)]
#[derive(Clone)]
pub struct ControllerLayer(LayerFn);

impl std::fmt::Debug for ControllerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControllerLayer")
    }
}

/// The route data a layered handler's request carries past the layer.
#[derive(Clone)]
struct Routed {
    params: Vec<(String, String)>,
    peer: Option<std::net::SocketAddr>,
    /// The client behind a trusted proxy, kept across the layer.
    client: Option<std::net::IpAddr>,
    sender: crate::Sender,
}

impl ControllerLayer {
    /// Erases `layer`; the bounds are [`App::layer`](crate::App::layer)'s.
    pub fn new<L, B>(layer: L) -> Self
    where
        L: tower::Layer<HttpService> + Send + Sync + 'static,
        L::Service: tower::Service<http::Request<BoxBody>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<BoxBody>>>::Future: Send + 'static,
        <L::Service as tower::Service<http::Request<BoxBody>>>::Error: Into<BoxError>,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(erase(layer))
    }

    /// `handler` behind the layer: the request goes through the layer as an `http::Request`
    /// and comes back an [`HttpRequest`] for the handler; the layer's response is read whole.
    pub(crate) fn wrap(&self, handler: BoxedHandler) -> BoxedHandler {
        let inner = HttpService::from_fn(move |request: http::Request<BoxBody>| {
            let handler = handler.clone();
            Box::pin(async move {
                let (mut parts, body) = request.into_parts();
                let Some(routed) = parts.extensions.remove::<Routed>() else {
                    return boxed_response(error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                    ));
                };
                let body = match body.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(_) => {
                        return boxed_response(error_response(
                            StatusCode::BAD_REQUEST,
                            "the request body could not be read",
                        ));
                    }
                };
                let mut request =
                    HttpRequest::new(parts, body, routed.params, routed.peer, routed.sender);
                if let Some(client) = routed.client {
                    request = request.with_client(client);
                }
                boxed_response(handler(request).await)
            })
        });
        let service = (self.0)(inner);
        Arc::new(move |request: HttpRequest| {
            let service = service.clone();
            Box::pin(async move {
                let (parts, body, params, peer, client, sender) = request.into_parts();
                let mut request = http::Request::from_parts(parts, boxed_body(Full::new(body)));
                request.extensions_mut().insert(Routed {
                    params,
                    peer,
                    client,
                    sender,
                });
                let Ok(response) = service.oneshot(request).await;
                collect_response(response).await
            })
        })
    }

    /// A 405 behind the layer, for the methods a layered path does not route: a CORS layer
    /// answers the preflight (`OPTIONS`) before it reaches the 405.
    pub(crate) fn method_not_allowed(&self, allowed: Vec<String>) -> BoxedHandler {
        let allow = allowed.join(", ");
        let answer: BoxedHandler = Arc::new(move |request: HttpRequest| {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{} is not allowed here", request.method()),
            );
            if let Ok(value) = http::HeaderValue::try_from(allow.as_str()) {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
            Box::pin(std::future::ready(response))
        });
        self.wrap(answer)
    }
}

/// A layer's response, read whole into a framework response.
async fn collect_response(response: http::Response<BoxBody>) -> Response {
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(collected) => Response::from_parts(parts, Full::new(collected.to_bytes())),
        Err(error) => {
            tracing::error!(%error, "a layer's response body failed");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
