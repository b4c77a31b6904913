//! How a session ends: the three closing handshakes (the client's, the server's, a protocol
//! failure) and the codes an abnormal end reports.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ws::codec::Violation;
use crate::ws::connection::Connection;
use crate::ws::message::{CloseFrame, CloseInfo, CloseInitiator, Message, close_frame};
use crate::ws::session::{Ending, Session};

impl Session {
    /// Ends the connection the way `ending` calls for.
    pub(super) async fn end(&mut self, ending: Ending, conn: &Connection) -> CloseInfo {
        match ending {
            Ending::Violation(violation) => {
                // Answers to the messages before the bad frame still go out, ahead of the
                // close frame.
                self.encode_queued(&conn.shared);
                conn.shared.outbox.shut();
                self.fail(violation).await
            }
            Ending::ReadFailed(error) => CloseInfo::new(
                1006,
                format!("connection lost: {error}"),
                CloseInitiator::Transport,
            ),
            Ending::Eof => CloseInfo::new(
                1006,
                "connection closed without a close frame",
                CloseInitiator::Transport,
            ),
            Ending::WriteFailed(error) => CloseInfo::new(
                1006,
                format!("write failed: {error}"),
                CloseInitiator::Transport,
            ),
            Ending::CloseRequested(frame) => self.close_with(frame).await,
            Ending::Silent => CloseInfo::new(
                1006,
                "no pong to the heartbeat ping",
                CloseInitiator::Transport,
            ),
        }
    }

    /// Writes everything queued.
    async fn write_out(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.encoder.poll_write(cx, &mut self.io)).await
    }

    /// The next frame the client sends: `None` at the end of the stream or on any error, which
    /// only matters here while a closing handshake is finishing.
    async fn next_inbound(&mut self) -> Option<Message> {
        poll_fn(|cx| {
            loop {
                match self.decoder.next_buffered() {
                    Ok(Some(message)) => return Poll::Ready(Some(message)),
                    Ok(None) => {}
                    Err(_) => return Poll::Ready(None),
                }
                match self.decoder.poll_fill(cx, &mut self.io) {
                    Poll::Ready(Ok(1..)) => {}
                    Poll::Ready(_) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// The client sent a close frame: echo it (RFC 6455 §5.5.1), then close
    /// the TCP connection, bounded by the close timeout.
    pub(super) async fn finish_peer_close(&mut self, frame: Option<CloseFrame>) -> CloseInfo {
        let info = match &frame {
            Some(frame) => CloseInfo::new(
                u16::from(frame.code),
                frame.reason.as_str(),
                CloseInitiator::Client,
            ),
            // RFC 6455 §7.1.5: a close frame without a code is reported as 1005.
            None => CloseInfo::new(1005, "", CloseInitiator::Client),
        };
        self.encoder.close(frame.as_ref());
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_ok() {
                let _ = self.io.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }

    /// Sends `frame` after what is already queued and waits (bounded) for the client's close
    /// frame; data messages arriving meanwhile are dropped (RFC 6455 §5.5.1).
    pub(super) async fn close_with(&mut self, frame: CloseFrame) -> CloseInfo {
        let info = CloseInfo::new(
            u16::from(frame.code),
            frame.reason.as_str(),
            CloseInitiator::Server,
        );
        self.encoder.close(Some(&frame));
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_err() {
                return;
            }
            while let Some(message) = self.next_inbound().await {
                if message.is_close() {
                    break;
                }
            }
            // RFC 6455 §7.1.1: the server closes the TCP connection first, so the client
            // does not have to; this also sends TLS's close_notify.
            let _ = self.io.shutdown().await;
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }

    /// After failing a connection: the write side is shut, then whatever the client still sends
    /// is read and discarded until it closes too. Closing a socket with unread data makes the
    /// kernel send a reset, which can destroy the close frame still on its way to the client.
    /// Callers bound this with the close timeout.
    async fn shutdown_and_drain(&mut self) {
        let _ = self.io.shutdown().await;
        let mut scratch = [0u8; 512];
        while let Ok(1..) = self.io.read(&mut scratch).await {}
    }

    /// The client broke the protocol: answer with the matching close code (RFC 6455 §7.4.1),
    /// parse nothing more (§7.1.7: the stream may not even be framed right any more), and
    /// linger until the client closes, bounded by the close timeout.
    async fn fail(&mut self, violation: Violation) -> CloseInfo {
        tracing::debug!(code = violation.code, reason = %violation.reason, "closing a connection that broke the protocol");
        let frame = close_frame(violation.code, &violation.reason);
        let info = CloseInfo::new(
            violation.code,
            frame.reason.as_str(),
            CloseInitiator::Server,
        );
        self.encoder.close(Some(&frame));
        let close_timeout = self.close_timeout;
        let finish = async {
            if self.write_out().await.is_ok() {
                self.shutdown_and_drain().await;
            }
        };
        let _ = tokio::time::timeout(close_timeout, finish).await;
        info
    }
}
