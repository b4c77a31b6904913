//! The reader of `perf`'s HTTP scenario: one WebSocket connection whose pushes are read and
//! dropped in batches.
//!
//! `/server/send` pushes a frame per request to a connection that somebody must read, on the
//! load generator's core next to wrk. A tokio client there woke for every write the server
//! made (~1,700 a second, plus its runtime's own wake-ups for each readiness event) and took
//! that time from wrk. This one blocks in `read` and sleeps between reads, so it costs the
//! core ~200 wake-ups a second whatever the push rate; it reads raw bytes, never parses them.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use super::idle::holding_line;

/// The pause after each read: what arrives meanwhile is taken by the next one. At 100,000
/// pushes a second of ~14 bytes that is ~7 KB, far below a socket's receive buffer.
const PAUSE: Duration = Duration::from_millis(5);

/// Arguments of the hidden `bench-push-reader` command.
#[derive(Debug, Args)]
pub(crate) struct PushReaderArgs {
    /// WebSocket URL to connect to (`ws://` only)
    url: String,
    /// How long to hold the connection, in seconds
    #[arg(long)]
    secs: f64,
}

pub(crate) fn run(args: PushReaderArgs) -> anyhow::Result<ExitCode> {
    let request = args
        .url
        .as_str()
        .into_client_request()
        .with_context(|| format!("not a WebSocket URL: {}", args.url))?;
    let uri = request.uri();
    let host = uri.host().context("the URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    let (socket, _) = tungstenite::client::client(request, stream)
        .map_err(|e| anyhow::anyhow!("handshake with {} failed: {e}", args.url))?;
    // Whatever tungstenite read past the handshake is dropped with it: pushes are not checked.
    let mut stream = socket.into_inner();
    // `HeldClient` waits for this line on stderr.
    eprintln!("{}", holding_line(1, args.secs));

    let deadline = Instant::now() + Duration::from_secs_f64(args.secs);
    let mut scratch = vec![0u8; 1 << 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(ExitCode::SUCCESS);
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut scratch) {
            Ok(0) => bail!("the server closed the connection"),
            Ok(_) => std::thread::sleep(PAUSE),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the pushes"),
        }
    }
}
