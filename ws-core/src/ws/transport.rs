//! The byte stream under a connection: plain TCP, TLS, or a connection another HTTP server
//! (axum, hyper) upgraded and handed over.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// A connection's socket. One enum instead of a generic parameter keeps one copy of the
/// connection loop per controller; the branch per read or write costs nothing measurable.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TcpStream),
    /// A plain socket that room pushes may also write to, between the connection task's
    /// writes (see [`Outbox`](crate::ws::outbox::Outbox)). Read and written through `&TcpStream`.
    Shared(Arc<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// A connection upgraded by another HTTP server through hyper (the mounted path of
    /// [`WsService`](crate::WsService)). Boxed: it is rare, and the enum stays as small as a
    /// socket.
    Mounted(Box<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>),
}

impl Transport {
    /// Makes a plain socket shareable: the transport to keep using, and the socket for whoever
    /// else may write whole frames to it. TLS cannot be shared: its writes go through the
    /// session's cipher state.
    pub(crate) fn share(self) -> (Transport, Option<Arc<TcpStream>>) {
        match self {
            Transport::Plain(stream) => {
                let stream = Arc::new(stream);
                (Transport::Shared(stream.clone()), Some(stream))
            }
            other => (other, None),
        }
    }

    /// Ready when a read may find bytes (or the end of the stream); pending, with the task
    /// registered, when a plain socket certainly has none. TLS may hold decrypted bytes the
    /// socket does not show, so it is always worth a read.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Transport::Plain(s) => s.poll_read_ready(cx),
            Transport::Shared(s) => s.poll_read_ready(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => Poll::Ready(Ok(())),
            // hyper may hold bytes it read past the upgrade request; only a read can tell.
            Transport::Mounted(_) => Poll::Ready(Ok(())),
        }
    }
}

/// One write through a shared socket: waits for room, and tries again after a `WouldBlock`,
/// which cleared the readiness the next turn waits on.
fn poll_shared_write(
    socket: &TcpStream,
    cx: &mut Context<'_>,
    mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(socket.poll_write_ready(cx))?;
        match write(socket) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            done => return Poll::Ready(done),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Shared(s) => loop {
                ready!(s.poll_read_ready(cx))?;
                let wanted = buf.remaining();
                let mut read = None;
                // A `WouldBlock` out of `try_io` clears the readiness the next turn waits on.
                let outcome = s.try_io(Interest::READABLE, || {
                    let n = s.try_read_buf(buf)?;
                    read = Some(n);
                    // A read that did not fill the buffer emptied the socket. tokio's own
                    // `poll_read` then clears the readiness too; without it the next read is a
                    // syscall that only says EAGAIN, one per burst of messages.
                    if n > 0 && n < wanted {
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        Ok(n)
                    }
                });
                match (read, outcome) {
                    (Some(_), _) => return Poll::Ready(Ok(())),
                    (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    (None, outcome) => return Poll::Ready(outcome.map(drop)),
                }
            },
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Mounted(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Shared(s) => poll_shared_write(s, cx, |s| s.try_write(buf)),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Mounted(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Shared(s) => poll_shared_write(s, cx, |s| s.try_write_vectored(bufs)),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Transport::Mounted(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Shared(_) => true,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.is_write_vectored(),
            Transport::Mounted(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            // Writes go straight to the kernel: nothing is buffered here.
            Transport::Shared(_) => Poll::Ready(Ok(())),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Mounted(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            // What tokio's own `poll_shutdown` does, reached through a shared reference.
            Transport::Shared(s) => {
                Poll::Ready(socket2::SockRef::from(&**s).shutdown(std::net::Shutdown::Write))
            }
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Mounted(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
