//! [`DeflateStream`]: the byte stream under a tungstenite client that applies what the
//! handshake agreed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Negotiated;
use super::frames::Rewriter;
use crate::ws::extension::agreed_by_server;

/// Bytes read per call from the socket.
const READ_CHUNK: usize = 8 * 1024;

/// Longest `101` response read while looking for the extension's answer; a longer one goes to
/// tungstenite as it is, which refuses it.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Compressed bytes waiting for the socket past which a write waits: tungstenite's own write
/// buffer stays the one that grows.
const WRITE_HIGH_WATER: usize = 128 * 1024;

/// Where the connection is.
#[derive(Debug)]
enum Phase {
    /// The upgrade request and response: bytes pass, the response is read for its answer.
    Handshake,
    /// Frames, rewritten when permessage-deflate was agreed.
    Frames(Option<Box<Rewriter>>),
    /// Not a WebSocket (the server refused the upgrade): bytes pass untouched.
    Untouched,
}

/// A byte stream for a tungstenite client that does permessage-deflate (RFC 7692) on the
/// frames passing through, as the server's `101` answer agreed.
///
/// Put it between the socket (TCP, or a TLS stream) and `tokio_tungstenite::client_async`, with
/// [`OFFER`](super::OFFER) in the request's `Sec-WebSocket-Extensions`. It reads the server's
/// answer from the response itself, so frames that arrive with the response are already
/// handled. Without an agreement (no offer, or a server that declines) it changes nothing.
///
/// It also counts the bytes of frames sent and received on the socket (after the handshake):
/// what compression saved, measured where it happens.
#[derive(Debug)]
pub struct DeflateStream<S> {
    inner: S,
    phase: Phase,
    negotiated: Option<Negotiated>,
    /// Read from the socket, not yet rewritten.
    wire_in: BytesMut,
    /// Rewritten, for tungstenite.
    plain_in: BytesMut,
    /// Written by tungstenite, not yet a whole frame.
    plain_out: BytesMut,
    /// Rewritten, for the socket.
    wire_out: BytesMut,
    sent: u64,
    received: u64,
}

impl<S> DeflateStream<S> {
    /// Wraps `inner`, a socket on which the upgrade request has not been sent yet.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            phase: Phase::Handshake,
            negotiated: None,
            wire_in: BytesMut::new(),
            plain_in: BytesMut::new(),
            plain_out: BytesMut::new(),
            wire_out: BytesMut::new(),
            sent: 0,
            received: 0,
        }
    }

    /// What the server agreed to; `None` before the response or without an agreement.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Bytes of frames written to the socket since the handshake.
    pub fn wire_bytes_sent(&self) -> u64 {
        self.sent
    }

    /// Bytes of frames read from the socket since the handshake.
    pub fn wire_bytes_received(&self) -> u64 {
        self.received
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Rewrites what has arrived into `plain_in`.
    fn rewrite_incoming(&mut self) -> io::Result<()> {
        if matches!(self.phase, Phase::Handshake) {
            let Some(end) = head_end(&self.wire_in) else {
                if self.wire_in.len() > MAX_RESPONSE_HEAD {
                    self.phase = Phase::Untouched;
                }
                return self.pass_through();
            };
            let head = self.wire_in.split_to(end);
            self.phase = self.answer(&head)?;
            self.plain_in.extend_from_slice(&head);
            // What followed the response in the same read is frames.
            self.received += self.wire_in.len() as u64;
        }
        match &mut self.phase {
            Phase::Frames(Some(rewriter)) => {
                rewriter.incoming(&mut self.wire_in, &mut self.plain_in)
            }
            _ => self.pass_through(),
        }
    }

    fn pass_through(&mut self) -> io::Result<()> {
        if !matches!(self.phase, Phase::Handshake) {
            self.plain_in.extend_from_slice(&self.wire_in);
            self.wire_in.clear();
        }
        Ok(())
    }

    /// The phase after the response `head`: frames, rewritten when the server agreed to
    /// permessage-deflate.
    fn answer(&mut self, head: &[u8]) -> io::Result<Phase> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if !matches!(response.parse(head), Ok(httparse::Status::Complete(_)))
            || response.code != Some(101)
        {
            return Ok(Phase::Untouched);
        }
        let mut agreed = None;
        for header in response.headers.iter() {
            if !header.name.eq_ignore_ascii_case("sec-websocket-extensions") {
                continue;
            }
            let text = std::str::from_utf8(header.value).map_err(|_| invalid_answer("not text"))?;
            if let Some(params) = agreed_by_server(text).map_err(invalid_answer)? {
                agreed = Some((text.trim().to_string(), params));
            }
        }
        Ok(match agreed {
            Some((header, params)) => {
                self.negotiated = Some(Negotiated { header, params });
                Phase::Frames(Some(Box::new(Rewriter::new(params))))
            }
            None => Phase::Frames(None),
        })
    }

    /// Rewrites what tungstenite wrote into `wire_out`.
    fn rewrite_outgoing(&mut self) -> io::Result<()> {
        match &mut self.phase {
            Phase::Frames(Some(rewriter)) => {
                rewriter.outgoing(&mut self.plain_out, &mut self.wire_out)
            }
            _ => {
                self.wire_out.extend_from_slice(&self.plain_out);
                self.plain_out.clear();
                Ok(())
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> DeflateStream<S> {
    /// Writes `wire_out` to the socket until it is empty or the socket is full.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wire_out.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wire_out))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if matches!(self.phase, Phase::Frames(_)) {
                self.sent += written as u64;
            }
            self.wire_out.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

/// The end of an HTTP response head (after its blank line), if it has all arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn invalid_answer(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server's Sec-WebSocket-Extensions answer is invalid: {why}"),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for DeflateStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.plain_in.is_empty() {
                let n = this.plain_in.len().min(buf.remaining());
                buf.put_slice(&this.plain_in[..n]);
                this.plain_in.advance(n);
                return Poll::Ready(Ok(()));
            }
            this.wire_in.reserve(READ_CHUNK);
            let before = this.wire_in.len();
            ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.inner),
                cx,
                &mut this.wire_in
            ))?;
            let read = this.wire_in.len() - before;
            if read == 0 {
                // End of stream: whatever is left (a cut frame) is tungstenite's to judge.
                this.plain_in.extend_from_slice(&this.wire_in);
                this.wire_in.clear();
                if this.plain_in.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if matches!(this.phase, Phase::Frames(_)) {
                this.received += read as u64;
            }
            this.rewrite_incoming()?;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DeflateStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.poll_drain(cx)?.is_pending() && this.wire_out.len() >= WRITE_HIGH_WATER {
            return Poll::Pending;
        }
        this.plain_out.extend_from_slice(data);
        this.rewrite_outgoing()?;
        // Nothing is lost by not waiting here: a flush drains what is left.
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
