//! `ws-cli client`: an interactive or scripted WebSocket client in the spirit of `wscat`.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::connect::{self, ClientStream, RequestOptions};

/// Exit status when the peer ended the connection in a way a script should notice.
/// Not 2, which clap already uses for usage errors.
const EXIT_ABNORMAL_CLOSE: u8 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server to answer our close frame before giving up.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Silence after the last message sent that counts as "all replies are in".
const DEFAULT_WAIT_MS: u64 = 1000;
/// How long what the server sends first (a greeting) is awaited and printed before anything is
/// sent, so a transcript shows it first.
const GREETING_WAIT: Duration = Duration::from_millis(200);
/// Only the start of a binary message is shown; the length says the rest.
const HEX_PREVIEW_BYTES: usize = 32;

const AFTER_HELP: &str = "\
Examples:
  ws-cli client ws://127.0.0.1:9502/                 # interactive
  ws-cli client ws://127.0.0.1:9502/ -x hi -x there  # send two messages, print the replies
  echo hi | ws-cli client ws://127.0.0.1:9502/       # send stdin's lines
  ws-cli client wss://example.com/chat --ca ca.pem   # trust an extra CA
  ws-cli client wss://127.0.0.1:9443/ -k             # a self-signed development certificate
  ws-cli client ws://127.0.0.1:9502/ --deflate       # offer permessage-deflate

Output (stdout):
  < TEXT                      a text message from the server
  < [binary N bytes] HEX...   a binary message (first 32 bytes in hex)
  > TEXT                      a message we sent (only when stdin is not a terminal)
  closed: CODE [REASON]       the connection ended (1006 = no close frame)
With --deflate, stderr says what was agreed first:
  extension: permessage-deflate; server_no_context_takeover; ...
  extension: none (the server declined permessage-deflate)
Errors go to stderr as one line starting with `error:`.

What the server sends within 200ms of the handshake (a greeting) is printed
before anything is sent.

Modes:
  --exec MSG...   send the messages, print replies until --wait-ms of silence
                  (default 1000) or a server close, then close with 1000 and
                  wait for the close reply.
  stdin (pipe)    send each line; at EOF the same as --exec (--wait-ms 0
                  closes at once, at the risk of losing late replies).
  stdin (tty)     interactive; Ctrl-D closes with 1000 at once (or after
                  --wait-ms of silence if given).

Exit status:
  0  the close handshake completed: we closed and the server answered, or the
     server closed with 1000 (normal) or 1001 (going away)
  1  could not connect (refused, handshake rejected, timeout), bad arguments
     or a local I/O error
  2  command-line usage error
  3  the server closed with any other code, dropped the connection without a
     close frame, or did not answer our close frame within 5s";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ClientArgs {
    /// Server URL, e.g. ws://127.0.0.1:9502/chat
    url: String,
    /// Extra request header, repeatable (e.g. -H "Authorization: Bearer x")
    #[arg(short = 'H', long = "header", value_name = "K:V", value_parser = connect::parse_header)]
    headers: Vec<(String, String)>,
    /// Cookie sent in the Cookie header, repeatable
    #[arg(long = "cookie", value_name = "k=v", value_parser = connect::parse_cookie)]
    cookies: Vec<String>,
    /// Requested subprotocol (Sec-WebSocket-Protocol), repeatable
    #[arg(long = "subprotocol", value_name = "P")]
    subprotocols: Vec<String>,
    /// Send this text message instead of reading stdin, repeatable; exits after replies
    #[arg(short = 'x', long = "exec", value_name = "MSG")]
    exec: Vec<String>,
    /// PEM file of a CA to trust for wss:// (on top of the system's roots)
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Accept any certificate for wss:// (a self-signed development server)
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Offer permessage-deflate (RFC 7692): messages are compressed and inflated on the way
    /// when the server agrees; stderr says what was agreed
    #[arg(long)]
    deflate: bool,
    /// Milliseconds of silence that count as "all replies received" [default: 1000, at a terminal: 0]
    #[arg(long, value_name = "N")]
    wait_ms: Option<u64>,
}

/// How the connection ended, decided when the last frame is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Clean,
    Abnormal,
}

impl From<Ending> for ExitCode {
    fn from(ending: Ending) -> Self {
        match ending {
            Ending::Clean => ExitCode::SUCCESS,
            Ending::Abnormal => ExitCode::from(EXIT_ABNORMAL_CLOSE),
        }
    }
}

type Sink = SplitSink<ClientStream, Message>;
type Source = SplitStream<ClientStream>;

pub(crate) fn run(args: ClientArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(session(args)).map(ExitCode::from)
}

async fn session(args: ClientArgs) -> anyhow::Result<Ending> {
    let mut headers = args.headers;
    if args.deflate {
        headers.push((
            "Sec-WebSocket-Extensions".to_owned(),
            ws_core::permessage_deflate::OFFER.to_owned(),
        ));
    }
    let opts = RequestOptions {
        headers,
        cookies: args.cookies,
        subprotocols: args.subprotocols,
    };
    let request = connect::build_request(&args.url, &opts)?;
    let tls = if request.uri().scheme_str() == Some("wss") {
        let options = crate::tls::TlsOptions {
            ca: args.ca.clone(),
            insecure: args.insecure,
        };
        Some(crate::tls::client_config(&options)?)
    } else {
        None
    };
    let (ws, response) = connect::connect_client(request, CONNECT_TIMEOUT, tls).await?;
    if args.deflate {
        match ws.get_ref().negotiated() {
            Some(agreed) => eprintln!("extension: {}", agreed.header()),
            None => eprintln!("extension: none (the server declined permessage-deflate)"),
        }
    }

    let interactive = std::io::stdin().is_terminal();
    if interactive {
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(|p| format!(" (subprotocol {p})"))
            .unwrap_or_default();
        eprintln!("connected to {}{protocol}; Ctrl-D to close", args.url);
    }
    // In a terminal the user already sees what they typed; in a transcript
    // produced from a pipe the sent lines are what makes the replies readable.
    let mut out = Transcript {
        echo_sent: !interactive,
    };
    let (mut sink, mut source) = ws.split();
    if let Some(ending) = receive_greeting(&mut source, &mut out).await? {
        return finish_server_close(source, ending).await;
    }

    let wait_ms = if args.exec.is_empty() {
        if let Some(ending) = send_stdin_lines(&mut sink, &mut source, &mut out).await? {
            return finish_server_close(source, ending).await;
        }
        // Closing right at EOF would race the replies to the last lines: many
        // servers stop sending once they have read our close frame, so a piped
        // script waits for the replies first. At a terminal the user has seen them.
        args.wait_ms.or((!interactive).then_some(DEFAULT_WAIT_MS))
    } else {
        for text in &args.exec {
            if let Err(err) = sink.feed(Message::text(text.as_str())).await {
                return Ok(out.lost(Some(&err))?);
            }
            out.sent(text)?;
        }
        if let Err(err) = sink.flush().await {
            return Ok(out.lost(Some(&err))?);
        }
        Some(args.wait_ms.unwrap_or(DEFAULT_WAIT_MS))
    };
    if let Some(wait_ms) = wait_ms {
        let wait = Duration::from_millis(wait_ms);
        if let Some(ending) = receive_until_quiet(&mut source, &mut out, wait).await? {
            return finish_server_close(source, ending).await;
        }
    }
    close(sink, source, &mut out).await
}

/// Sends stdin lines as they come while printing what arrives; `Some` if the
/// server ended the connection before stdin did.
async fn send_stdin_lines(
    sink: &mut Sink,
    source: &mut Source,
    out: &mut Transcript,
) -> anyhow::Result<Option<Ending>> {
    let mut lines = spawn_stdin_reader();
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(text) => {
                    if let Err(err) = sink.send(Message::text(text.as_str())).await {
                        return Ok(Some(out.lost(Some(&err))?));
                    }
                    out.sent(&text)?;
                }
                None => return Ok(None),
            },
            incoming = source.next() => {
                if let Some(ending) = out.incoming(incoming)? {
                    return Ok(Some(ending));
                }
            }
        }
    }
}

/// Reads stdin on a plain thread: tokio's stdin uses a blocking read that cannot
/// be cancelled and would keep the process alive after the server closes.
fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let line = match line {
                Ok(line) => line,
                Err(err) => {
                    // Treated as EOF so the connection still closes cleanly.
                    eprintln!("error: cannot read stdin: {err}");
                    break;
                }
            };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Prints replies until `wait` passes without one; `Some` if the server ended first.
async fn receive_until_quiet(
    source: &mut Source,
    out: &mut Transcript,
    wait: Duration,
) -> anyhow::Result<Option<Ending>> {
    while let Ok(incoming) = tokio::time::timeout(wait, source.next()).await {
        if let Some(ending) = out.incoming(incoming)? {
            return Ok(Some(ending));
        }
    }
    Ok(None)
}

/// Prints what arrives within [`GREETING_WAIT`] of the handshake; `Some` if the server ended.
async fn receive_greeting(
    source: &mut Source,
    out: &mut Transcript,
) -> anyhow::Result<Option<Ending>> {
    let deadline = tokio::time::Instant::now() + GREETING_WAIT;
    while let Ok(incoming) = tokio::time::timeout_at(deadline, source.next()).await {
        if let Some(ending) = out.incoming(incoming)? {
            return Ok(Some(ending));
        }
    }
    Ok(None)
}

/// Sends a normal close and waits for the server's answer, still printing any
/// messages it had in flight.
async fn close(mut sink: Sink, mut source: Source, out: &mut Transcript) -> anyhow::Result<Ending> {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if let Err(err) = sink.send(Message::Close(Some(frame))).await {
        return Ok(out.lost(Some(&err))?);
    }
    let waiting = async {
        loop {
            match source.next().await {
                Some(Ok(Message::Close(frame))) => {
                    out.closed(frame.as_ref())?;
                    return Ok(Ending::Clean);
                }
                other => {
                    if let Some(ending) = out.incoming(other)? {
                        return Ok(ending);
                    }
                }
            }
        }
    };
    match tokio::time::timeout(CLOSE_TIMEOUT, waiting).await {
        Ok(ending) => ending,
        Err(_) => {
            eprintln!("error: no close reply within {}s", CLOSE_TIMEOUT.as_secs());
            Ok(Ending::Abnormal)
        }
    }
}

/// After a server-initiated close, keep polling so tungstenite flushes its
/// automatic close reply before we exit; the server then sees a clean close.
async fn finish_server_close(mut source: Source, ending: Ending) -> anyhow::Result<Ending> {
    let drain = async { while source.next().await.is_some() {} };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
    Ok(ending)
}

/// Everything printed on stdout goes through here so the format stays in one place.
struct Transcript {
    echo_sent: bool,
}

impl Transcript {
    fn sent(&mut self, text: &str) -> std::io::Result<()> {
        if self.echo_sent {
            writeln!(std::io::stdout().lock(), "> {text}")?;
        }
        Ok(())
    }

    /// Prints one incoming item; `Some` once the connection has ended.
    fn incoming(
        &mut self,
        item: Option<Result<Message, WsError>>,
    ) -> std::io::Result<Option<Ending>> {
        let mut stdout = std::io::stdout().lock();
        match item {
            Some(Ok(Message::Text(text))) => writeln!(stdout, "< {}", text.as_str())?,
            Some(Ok(Message::Binary(data))) => {
                let shown = &data[..data.len().min(HEX_PREVIEW_BYTES)];
                let mut line = format!("< [binary {} bytes]", data.len());
                if !shown.is_empty() {
                    line.push(' ');
                    for byte in shown {
                        let _ = write!(line, "{byte:02x}");
                    }
                    if shown.len() < data.len() {
                        line.push_str("...");
                    }
                }
                writeln!(stdout, "{line}")?;
            }
            // Pings are answered by tungstenite; showing control frames would only add noise.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                drop(stdout);
                self.closed(frame.as_ref())?;
                let clean = frame
                    .as_ref()
                    .is_none_or(|f| matches!(f.code, CloseCode::Normal | CloseCode::Away));
                return Ok(Some(if clean {
                    Ending::Clean
                } else {
                    Ending::Abnormal
                }));
            }
            Some(Err(err)) => {
                drop(stdout);
                return self.lost(Some(&err)).map(Some);
            }
            None => {
                drop(stdout);
                return self.lost(None).map(Some);
            }
        }
        Ok(None)
    }

    fn closed(&mut self, frame: Option<&CloseFrame>) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match frame {
            Some(frame) if frame.reason.is_empty() => {
                writeln!(stdout, "closed: {}", u16::from(frame.code))
            }
            Some(frame) => writeln!(stdout, "closed: {} {}", u16::from(frame.code), frame.reason),
            // A close frame without a body means "no status code" (RFC 6455 7.1.5).
            None => writeln!(stdout, "closed: 1005 (no status code)"),
        }
    }

    fn lost(&mut self, err: Option<&WsError>) -> std::io::Result<Ending> {
        if let Some(err) = err {
            eprintln!("error: connection lost: {err}");
        }
        writeln!(
            std::io::stdout().lock(),
            "closed: 1006 (connection dropped without a close frame)"
        )?;
        Ok(Ending::Abnormal)
    }
}
