//! One Socket.IO client on a bare socket: the Engine.IO open and the namespace connect, then
//! server frames read in place and whole messages handed to the load's check.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::frames::{self, Head};
use super::super::upgrade::Upgraded;

/// Read buffer: acks and room messages are tens of bytes, and a read takes what is there.
const READ_BUFFER: usize = 16 << 10;
/// A server message longer than this is not one of the loads' (they are all short).
const MAX_MESSAGE: usize = 1 << 20;
/// The namespace every load uses.
const CONNECT_NAMESPACE: &[u8] = b"40";

pub(super) struct SioConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Frames to send with the next [`flush`](Self::flush): events and pongs.
    pub(super) out: Vec<u8>,
}

impl SioConn {
    /// Takes the Engine.IO open packet and connects to the namespace `/`.
    pub(super) async fn open(upgraded: Upgraded) -> anyhow::Result<Self> {
        let Upgraded { stream, early } = upgraded;
        let mut buf = vec![0; READ_BUFFER.max(early.len())];
        buf[..early.len()].copy_from_slice(&early);
        let mut conn = Self {
            stream,
            buf,
            start: 0,
            end: early.len(),
            out: Vec::with_capacity(4 << 10),
        };
        let open = conn.next_message().await?;
        if !open.starts_with(b"0{") {
            bail!(
                "expected the Engine.IO open packet, got {}",
                String::from_utf8_lossy(&open)
            );
        }
        conn.out
            .extend_from_slice(&frames::masked_frame(frames::OP_TEXT, CONNECT_NAMESPACE));
        conn.flush().await?;
        let connected = conn.next_message().await?;
        if !connected.starts_with(b"40{") {
            bail!(
                "expected the namespace connect packet, got {}",
                String::from_utf8_lossy(&connected)
            );
        }
        Ok(conn)
    }

    /// The next message that is not an Engine.IO ping, for the handshakes (not the hot path).
    pub(super) async fn next_message(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            let mut message = None;
            self.drain_until(|payload, _| {
                message = Some(payload.to_vec());
                Ok(false)
            })?;
            if let Some(message) = message {
                return Ok(message);
            }
            self.flush().await?;
            self.fill().await?;
        }
    }

    /// Hands every whole message in the buffer to `on_message`, which may queue frames to send
    /// in the buffer it is given; pings of either layer are answered there too.
    pub(super) fn drain(
        &mut self,
        mut on_message: impl FnMut(&[u8], &mut Vec<u8>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.drain_until(|payload, out| on_message(payload, out).map(|()| true))
    }

    /// [`drain`](Self::drain), stopping after the message for which `on_message` says `false`.
    fn drain_until(
        &mut self,
        mut on_message: impl FnMut(&[u8], &mut Vec<u8>) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        loop {
            let Some(head) = Head::parse_with(&self.buf[self.start..self.end], false)
                .map_err(|fault| anyhow::anyhow!("the server broke the framing: {fault:?}"))?
            else {
                return Ok(());
            };
            let whole = head.header_len + usize::try_from(head.payload_len).unwrap_or(usize::MAX);
            if whole > MAX_MESSAGE {
                bail!("a {whole}-byte frame: not one of this load's");
            }
            if self.end - self.start < whole {
                if whole > self.buf.len() {
                    self.buf.resize(whole, 0);
                }
                return Ok(());
            }
            let payload = &self.buf[self.start + head.header_len..self.start + whole];
            self.start += whole;
            if !head.fin {
                bail!("a fragmented message: the loads' messages are short and sent whole");
            }
            let go_on = match head.opcode {
                // Engine.IO ping: the client answers with a pong or is dropped.
                frames::OP_TEXT if payload == b"2" => {
                    self.out
                        .extend_from_slice(&frames::masked_frame(frames::OP_TEXT, b"3"));
                    true
                }
                frames::OP_TEXT => on_message(payload, &mut self.out)?,
                frames::OP_PING => {
                    self.out
                        .extend_from_slice(&frames::masked_frame(frames::OP_PONG, payload));
                    true
                }
                frames::OP_PONG => true,
                frames::OP_CLOSE => bail!("the server closed the connection"),
                other => bail!("an unexpected frame (opcode {other})"),
            };
            if !go_on {
                return Ok(());
            }
        }
    }

    /// Reads what has arrived (waiting for something).
    pub(super) async fn fill(&mut self) -> anyhow::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read = self
            .stream
            .read(&mut self.buf[self.end..])
            .await
            .context("reading from the server")?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        self.end += read;
        Ok(())
    }

    /// Sends what [`out`](Self::out) holds.
    pub(super) async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.out.is_empty() {
            self.stream
                .write_all(&self.out)
                .await
                .context("writing to the server")?;
            self.out.clear();
        }
        Ok(())
    }
}

/// A Socket.IO event packet of the namespace `/`, as the masked frame a client sends.
pub(super) fn event_frame(ack: Option<usize>, json_args: &str) -> Vec<u8> {
    let packet = match ack {
        Some(id) => format!("42{id}{json_args}"),
        None => format!("42{json_args}"),
    };
    frames::masked_frame(frames::OP_TEXT, packet.as_bytes())
}
