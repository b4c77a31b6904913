//! The HTTP server: hyper 1.x, one task per connection, routes matched with `matchit`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::app::AppShared;
use crate::config::ServerSettings;
use crate::http::{HttpRequest, Response, error_response};
use crate::router::HttpTable;
use crate::transport::Transport;

/// Everything the connections of one HTTP server share.
pub(crate) struct HttpShared {
    pub(crate) app: Arc<AppShared>,
    pub(crate) name: Arc<str>,
    pub(crate) settings: ServerSettings,
    pub(crate) table: HttpTable,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

pub(crate) async fn serve(
    listener: TcpListener,
    server: Arc<HttpShared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(server.clone(), stream, peer));
                }
                Err(error) => super::accept_backoff(&server.name, &error).await,
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(server: Arc<HttpShared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let timeout = Duration::from_millis(server.settings.handshake_timeout_ms);
    let transport = match secure(&server, stream, timeout).await {
        Some(transport) => transport,
        None => return,
    };
    let service = {
        let server = server.clone();
        service_fn(move |req| respond(server.clone(), peer, req))
    };
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        // hyper refuses buffers under 8 KiB; a head that does not fit answers 431.
        .max_buf_size(server.settings.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(transport), service)
        .await;
    if let Err(error) = result {
        tracing::debug!(server = %server.name, error = %error, "HTTP connection ended with an error");
    }
}

async fn secure(server: &HttpShared, stream: TcpStream, timeout: Duration) -> Option<Transport> {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &server.tls {
        return match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(Transport::Tls(Box::new(tls))),
            _ => None,
        };
    }
    let _ = (server, timeout);
    Some(Transport::Plain(stream))
}

async fn respond(
    server: Arc<HttpShared>,
    peer: SocketAddr,
    req: http::Request<Incoming>,
) -> Result<Response, Infallible> {
    let matched = match server.table.at(req.uri().path()) {
        Ok(matched) => matched,
        Err(_) => {
            return Ok(error_response(
                StatusCode::NOT_FOUND,
                &format!("no route for {}", req.uri().path()),
            ));
        }
    };
    let method = req.method().clone();
    let handler = matched.value.get(&method).or_else(|| {
        (method == Method::HEAD)
            .then(|| matched.value.get(&Method::GET))
            .flatten()
    });
    let Some(handler) = handler.cloned() else {
        let mut allowed: Vec<&str> = matched.value.keys().map(Method::as_str).collect();
        allowed.sort_unstable();
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not allowed here"),
        );
        if let Ok(value) = HeaderValue::try_from(allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return Ok(response);
    };
    let params: Vec<(String, String)> = matched
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (parts, body) = req.into_parts();
    let uri = parts.uri.clone();
    let body = match Limited::new(body, server.settings.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "request body larger than {} bytes",
                    server.settings.max_body_bytes
                ),
            ));
        }
    };
    let request = HttpRequest::new(parts, body, params, Some(peer), server.app.sender.clone());
    match AssertUnwindSafe(handler(request)).catch_unwind().await {
        Ok(response) => Ok(response),
        Err(_) => {
            tracing::error!(server = %server.name, %method, %uri, "HTTP handler panicked");
            Ok(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            ))
        }
    }
}
