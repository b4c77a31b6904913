//! A raw WebSocket client for the hardening suites: hand-built (masked or not) frames over a
//! plain `TcpStream`, so a test can send exactly the bytes a rule is about, and read exactly
//! what the server answers. Included by each `hardening_*` test with `#[path]`.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// How long a raw read waits before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xa;

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame (`None` for an empty payload).
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Encodes one client frame. `rsv` is the three reserved bits (0..=7); `mask` masks the payload
/// with a fixed key, as every client must (RFC 6455 §5.3).
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let key = [0x1f, 0x8b, 0x5a, 0xc3];
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push((u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f));
    let mask_bit = if mask { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if mask {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A close frame's payload: the code, then the reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// The upgrade request this client sends, with `extra` header lines (each ending in `\r\n`).
pub fn upgrade_request(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// An HTTP response read off a raw socket.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` as is and reads the whole response (until the server closes).
pub async fn http_exchange(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send request");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("the server did not finish its answer and close")
        .expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    HttpResponse {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// A connected WebSocket client speaking raw frames.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// The `101` response head.
    pub response: String,
}

impl RawClient {
    /// Connects and upgrades; panics unless the server answers 101.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        Self::connect_with(addr, path, "")
            .await
            .unwrap_or_else(|r| panic!("upgrade refused: {r:?}"))
    }

    /// Connects and upgrades with extra header lines; the response when it is not a 101.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        extra: &str,
    ) -> Result<Self, HttpResponse> {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::upgrade(stream, addr, path, extra).await
    }

    /// Upgrades an already connected `stream` (one with socket options of the test's choosing);
    /// the response when it is not a 101.
    pub async fn upgrade(
        mut stream: TcpStream,
        addr: SocketAddr,
        path: &str,
        extra: &str,
    ) -> Result<Self, HttpResponse> {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .write_all(upgrade_request(addr, path, extra).as_bytes())
            .await
            .expect("send upgrade");
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
                .await
                .expect("no upgrade response")
                .expect("read upgrade response");
            if n == 0 {
                return Err(parse_response(&buf));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let response = String::from_utf8_lossy(&buf[..head_end]).to_string();
        if !response.starts_with("HTTP/1.1 101") {
            let mut rest = buf;
            let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
            return Err(parse_response(&rest));
        }
        buf.drain(..head_end);
        Ok(Self {
            stream,
            buf,
            response,
        })
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Sends one masked frame.
    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send_raw(&encode(fin, 0, opcode, payload, true)).await;
    }

    /// Reads one frame; `None` when the server closed the TCP connection.
    pub async fn try_read_frame(&mut self) -> Option<Frame> {
        tokio::time::timeout(WAIT, self.read_frame_inner())
            .await
            .expect("no frame from the server in time")
    }

    /// Reads one frame; panics on EOF.
    pub async fn read_frame(&mut self) -> Frame {
        self.try_read_frame()
            .await
            .expect("the server closed the connection instead of sending a frame")
    }

    async fn fill(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => self.buf.extend_from_slice(&chunk[..read]),
            }
        }
        true
    }

    async fn read_frame_inner(&mut self) -> Option<Frame> {
        if !self.fill(2).await {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                if !self.fill(4).await {
                    return None;
                }
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                if !self.fill(10).await {
                    return None;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let mut key = None;
        if masked {
            if !self.fill(at + 4).await {
                return None;
            }
            key = Some([
                self.buf[at],
                self.buf[at + 1],
                self.buf[at + 2],
                self.buf[at + 3],
            ]);
            at += 4;
        }
        if !self.fill(at + len).await {
            return None;
        }
        let mut payload: Vec<u8> = self.buf[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        self.buf.drain(..at + len);
        Some(Frame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: b0 & 0x0f,
            masked,
            payload,
        })
    }

    /// Reads the next data frame, skipping pings and pongs.
    pub async fn read_data(&mut self) -> Frame {
        loop {
            let frame = self.read_frame().await;
            if frame.opcode != PING && frame.opcode != PONG {
                return frame;
            }
        }
    }

    /// Asserts the server's next frame of substance is a close with `code`: pings and pongs may
    /// come first, data may not. Where the RFC fails a connection for a message (1002, 1007,
    /// 1009), that message must not be delivered, and an echo server that echoed it before
    /// closing would otherwise pass. Then answers the close and asserts the server closes the
    /// TCP connection itself (RFC 6455 §7.1.1).
    pub async fn expect_close(&mut self, code: u16) -> Frame {
        let (close, data) = self.read_until_close(code, true).await;
        debug_assert!(data.is_empty());
        close
    }

    /// Like [`RawClient::expect_close`], for a close that legitimately follows data already on
    /// its way (a slow reader closed by the backpressure policy); returns that data.
    pub async fn expect_close_after_data(&mut self, code: u16) -> (Frame, Vec<Frame>) {
        self.read_until_close(code, false).await
    }

    async fn read_until_close(&mut self, code: u16, no_data: bool) -> (Frame, Vec<Frame>) {
        let mut data = Vec::new();
        let close = loop {
            let frame = self.try_read_frame().await.unwrap_or_else(|| {
                panic!("the server dropped the connection without a close frame, expected {code}")
            });
            match frame.opcode {
                CLOSE => break frame,
                PING | PONG => {}
                _ if no_data => panic!(
                    "the server sent data before closing with {code}: {frame:?} (a message that \
                     fails the connection must not be delivered)"
                ),
                _ => data.push(frame),
            }
        };
        assert_eq!(close.close_code(), Some(code), "close frame {close:?}");
        assert!(!close.masked, "a server frame must not be masked");
        // The client's half of the closing handshake; the server may already have shut down
        // its side, so a failed write is fine.
        let _ = self
            .stream
            .write_all(&encode(true, 0, CLOSE, &close.payload[..2], true))
            .await;
        self.expect_eof().await;
        // Then the client closes its side too, as a real one does on the server's FIN.
        let _ = self.stream.shutdown().await;
        (close, data)
    }

    /// Asserts the server closes the TCP connection without further frames of data.
    pub async fn expect_eof(&mut self) {
        let eof = tokio::time::timeout(WAIT, async {
            loop {
                match self.read_frame_inner().await {
                    None => return,
                    Some(frame)
                        if frame.opcode == PING
                            || frame.opcode == PONG
                            || frame.opcode == CLOSE => {}
                    Some(frame) => panic!("data after the close: {frame:?}"),
                }
            }
        })
        .await;
        assert!(eof.is_ok(), "the server did not close the TCP connection");
        let _ = self.stream.shutdown().await;
    }

    /// Whether the server has closed the connection (EOF or reset) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            loop {
                if self.read_frame_inner().await.is_none() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }
}

/// The resident set size of process `pid`, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Echoes data messages; records every message it is handed and reports every `on_close`.
struct Echo {
    dispatched: Arc<Mutex<Vec<Message>>>,
    closes: mpsc::UnboundedSender<CloseInfo>,
}

impl WebSocketHandler for Echo {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        // Recorded before the echo, so a message that reached the handler is on the list even
        // when the echo can no longer be written.
        self.dispatched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(msg.clone());
        conn.push(msg).await?;
        Ok(())
    }

    async fn on_close(&self, _conn: &Connection, close: CloseInfo) {
        let _ = self.closes.send(close);
    }
}

/// An echo server on a free port, and the `on_message` and `on_close` calls its handler saw.
pub struct Harness {
    pub server: TestServer,
    pub addr: SocketAddr,
    dispatched: Arc<Mutex<Vec<Message>>>,
    closes: mpsc::UnboundedReceiver<CloseInfo>,
}

impl Harness {
    /// A server whose `[servers.settings]` are `settings` (TOML lines) on top of a 2 s close
    /// timeout.
    pub async fn start(settings: &str) -> Self {
        let (tx, closes) = mpsc::unbounded_channel();
        let dispatched = Arc::new(Mutex::new(Vec::new()));
        let mut app = App::new();
        app.router("ws").ws(
            "/",
            Echo {
                dispatched: dispatched.clone(),
                closes: tx,
            },
        );
        let config = format!(
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 0\n[servers.settings]\nclose_timeout_ms = 2000\n{settings}\n"
        );
        let server = TestServer::start(app, &config).await.expect("boot");
        let addr = server.app().addr("ws").expect("ws server");
        Self {
            server,
            addr,
            dispatched,
            closes,
        }
    }

    /// Every message the handler's `on_message` was handed so far, in order.
    pub fn dispatched(&self) -> Vec<Message> {
        self.dispatched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub async fn client(&self) -> RawClient {
        RawClient::connect(self.addr, "/").await
    }

    /// The close the handler saw next.
    pub async fn on_close(&mut self) -> CloseInfo {
        tokio::time::timeout(WAIT, self.closes.recv())
            .await
            .expect("no on_close in time")
            .expect("handler gone")
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
