//! Plain HTTP requests (no `Upgrade: websocket`) on a WebSocket server's port, for a route that
//! answers them: Engine.IO's long-polling transport at `/socket.io/` is the one that does.
//!
//! A route without a [`PlainRoute`] keeps answering such a request with 426. The request body is
//! read whole, bounded by the route's limit, and every answer closes the TCP connection: a
//! long-poll holds its connection for seconds anyway, and a client (or nginx) opens the next
//! one without noticing, while reusing connections would need a full HTTP/1.1 server here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ws::bare::BareConnections;
use crate::ws::handshake::{PlainHead, write_headers};
use crate::ws::request::Request;

/// An answer to a plain request.
pub(crate) type PlainResponse = http::Response<Bytes>;

/// What a route does with a plain HTTP request.
pub(crate) trait PlainRoute: Send + Sync + 'static {
    /// The largest body the route takes; past it the client gets 413 before the route runs.
    fn max_body(&self) -> usize;

    /// Answers `request` with its `body`; `connections` opens connections without a socket of
    /// their own, on the server the request came to.
    fn serve<'a>(
        &'a self,
        request: Request,
        body: Bytes,
        connections: BareConnections<'a>,
    ) -> BoxFuture<'a, PlainResponse>;
}

/// Reads the body of `head` (within `timeout`), has `route` answer it and writes the answer.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    head: PlainHead,
    route: &Arc<dyn PlainRoute>,
    connections: BareConnections<'_>,
    timeout: Duration,
) {
    let PlainHead { request, leftover } = head;
    let body = match tokio::time::timeout(
        timeout,
        read_body(stream, request.headers(), leftover, route.max_body()),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(status)) => return write(stream, &status_only(status)).await,
        Err(_) => return write(stream, &status_only(StatusCode::REQUEST_TIMEOUT)).await,
    };
    let response = route.serve(request, body, connections).await;
    write(stream, &response).await;
}

/// The body as `Content-Length` announces it. A chunked body is refused with 411: the one
/// client this path exists for (Engine.IO's polling) always sends a length.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    headers: &HeaderMap,
    mut body: Vec<u8>,
    limit: usize,
) -> Result<Bytes, StatusCode> {
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Err(StatusCode::LENGTH_REQUIRED);
    }
    let length = match headers.get(http::header::CONTENT_LENGTH) {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or(StatusCode::BAD_REQUEST)?,
    };
    if length > limit {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if body.len() > length {
        // Pipelined bytes past the body: this path answers one request per connection.
        body.truncate(length);
    }
    let start = body.len();
    body.resize(length, 0);
    stream
        .read_exact(&mut body[start..])
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(Bytes::from(body))
}

fn status_only(status: StatusCode) -> PlainResponse {
    let mut response = http::Response::new(Bytes::from(format!("{status}\n")));
    *response.status_mut() = status;
    response
}

/// Writes `response` with its length and `Connection: close`, then closes the write side.
async fn write<S: AsyncWrite + Unpin>(stream: &mut S, response: &PlainResponse) {
    let status = response.status();
    let mut out = Vec::with_capacity(256 + response.body().len());
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    write_headers(&mut out, response.headers());
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            response.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(response.body());
    if stream.write_all(&out).await.is_ok() {
        let _ = stream.flush().await;
        let _ = stream.shutdown().await;
    }
}
