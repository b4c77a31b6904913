//! The opening handshake done by hand, for connections the load generator then
//! frames itself: the socket comes back bare, with whatever the server sent
//! right after its `101` (a greeting can share the segment with the response).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::header::{SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};

use crate::connect::ConnectError;

/// A response head longer than this is not a WebSocket server's.
const MAX_RESPONSE_HEAD: usize = 16 << 10;
const MAX_RESPONSE_HEADERS: usize = 64;

/// An upgraded connection: the socket, and bytes already read past the response.
pub(super) struct Upgraded {
    pub(super) stream: TcpStream,
    pub(super) early: Vec<u8>,
}

/// Connects and upgrades, within `timeout`.
pub(super) async fn upgrade(request: Request, timeout: Duration) -> Result<Upgraded, ConnectError> {
    match tokio::time::timeout(timeout, attempt(&request)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ConnectError::Timeout(timeout)),
    }
}

async fn attempt(request: &Request) -> Result<Upgraded, ConnectError> {
    let uri = request.uri();
    let named = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(80);
    // `Uri::host` keeps an IPv6 literal's brackets, which address parsing does not take.
    let host = named.trim_start_matches('[').trim_end_matches(']');
    let unreachable = |err| ConnectError::Unreachable {
        target: format!("{named}:{port}"),
        err,
    };
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(unreachable)?;
    // Small frames must not wait for delayed ACKs.
    stream.set_nodelay(true).map_err(unreachable)?;
    stream
        .write_all(&request_head(request))
        .await
        .map_err(unreachable)?;

    let mut received = Vec::with_capacity(1024);
    let head_len = loop {
        let read = stream.read_buf(&mut received).await.map_err(unreachable)?;
        if read == 0 {
            return Err(ConnectError::Failed(
                "connection closed before the handshake response".into(),
            ));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&received) {
            Ok(httparse::Status::Complete(len)) => {
                check_response(request, &response, &received[len..])?;
                break len;
            }
            Ok(httparse::Status::Partial) if received.len() < MAX_RESPONSE_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(ConnectError::Failed("handshake response too long".into()));
            }
            Err(err) => {
                return Err(ConnectError::Failed(format!(
                    "malformed handshake response: {err}"
                )));
            }
        }
    };
    let early = received.split_off(head_len);
    Ok(Upgraded { stream, early })
}

/// The request line and headers, as `into_client_request` filled them in.
fn request_head(request: &Request) -> Vec<u8> {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let mut head = format!("GET {target} HTTP/1.1\r\n").into_bytes();
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn check_response(
    request: &Request,
    response: &httparse::Response<'_, '_>,
    after_head: &[u8],
) -> Result<(), ConnectError> {
    let code = response.code.unwrap_or_default();
    if code != 101 {
        let status = match response.reason {
            Some(reason) if !reason.is_empty() => format!("{code} {reason}"),
            _ => code.to_string(),
        };
        return Err(ConnectError::Rejected {
            status,
            body: crate::connect::short_body(after_head),
        });
    }
    let expected = request
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .map(|key| derive_accept_key(key.as_bytes()));
    let accept = response
        .headers
        .iter()
        .find(|header| {
            header
                .name
                .eq_ignore_ascii_case(SEC_WEBSOCKET_ACCEPT.as_str())
        })
        .map(|header| header.value);
    match (expected, accept) {
        (Some(expected), Some(accept)) if expected.as_bytes() == accept => Ok(()),
        _ => Err(ConnectError::Failed(
            "the server's Sec-WebSocket-Accept does not answer our key".into(),
        )),
    }
}
