//! Baseline echo server: plain tokio-tungstenite with nothing of the framework,
//! the reference the framework's numbers are compared against. Kept as the
//! idiomatic shape (stream forwarded into sink) rather than tuned, so the
//! comparison is against what a user would write by hand.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// 4 KiB buffers: enough for small-message benchmarks while keeping the
/// per-connection footprint comparable with the framework's.
const BUFFER_SIZE: usize = 4 << 10;
/// Back-off when accept fails (e.g. out of descriptors during an idle test),
/// so the loop does not spin while connections drain.
pub(super) const ACCEPT_RETRY: Duration = Duration::from_millis(10);

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Port on 127.0.0.1; 0 picks a free one (printed as `listening on ADDR`)
    #[arg(long, default_value_t = 0)]
    pub(super) port: u16,
    /// Runtime worker threads; 1 keeps the server on the calling thread
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(super) threads: u32,
}

/// The echo server's options: a plain echo, or the seed's `/` controller written by hand.
#[derive(Debug, Args)]
pub(crate) struct EchoArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    behaviour: Behaviour,
}

/// What the server does besides echoing; shared by every connection.
#[derive(Debug, Args)]
struct Behaviour {
    /// Sent on every connection as it opens (the seed's `/` sends `Opened`)
    #[arg(long)]
    greeting: Option<String>,
    /// Put in front of every text echo with `format!`, as the seed's `/` does with `Recv: `
    #[arg(long)]
    prefix: Option<String>,
}

pub(crate) fn run(args: EchoArgs) -> anyhow::Result<ExitCode> {
    super::raise_open_files_limit();
    let runtime = super::build_runtime(args.server.threads)?;
    runtime.block_on(serve(args.server.port, Arc::new(args.behaviour)))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(port: u16, behaviour: Arc<Behaviour>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    announce(listener.local_addr()?)?;

    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let behaviour = Arc::clone(&behaviour);
                tokio::spawn(async move {
                    let _ = echo(stream, &behaviour).await;
                });
            }
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Prints `listening on ADDR`. Scripts and tests wait for this line to learn the port, so it
/// must not sit in a buffer.
pub(super) fn announce(addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()
}

async fn echo(stream: TcpStream, behaviour: &Behaviour) -> Result<(), WsError> {
    // Echoes are small writes answering pipelined requests; Nagle would hold
    // them back waiting for ACKs.
    stream.set_nodelay(true)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(BUFFER_SIZE)
        .write_buffer_size(BUFFER_SIZE);
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    let (mut write, read) = ws.split();
    if let Some(greeting) = &behaviour.greeting {
        write.send(Message::text(greeting.as_str())).await?;
    }
    let echoes = read.try_filter(|message| future::ready(message.is_text() || message.is_binary()));
    // `forward` feeds items while the stream has them and flushes when it would
    // block, which batches echoes of pipelined messages into few writes.
    match &behaviour.prefix {
        None => echoes.forward(write).await,
        Some(prefix) => {
            echoes
                .map_ok(|message| match message {
                    Message::Text(text) => Message::text(format!("{prefix}{text}")),
                    other => other,
                })
                .forward(write)
                .await
        }
    }
}

/// Baseline fan-out server: every message any client sends goes to every client through one
/// `tokio::sync::broadcast` channel — the hand-written fan-out the framework's rooms are
/// measured against.
pub(crate) fn run_fanout(args: ServerArgs) -> anyhow::Result<ExitCode> {
    super::raise_open_files_limit();
    let runtime = super::build_runtime(args.threads)?;
    runtime.block_on(serve_fanout(args.port))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_fanout(port: u16) -> anyhow::Result<()> {
    use tokio::sync::broadcast;

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    announce(listener.local_addr()?)?;
    // Capacity covers a burst of broadcasts while a member is briefly behind.
    let (hub, _) = broadcast::channel::<Message>(1024);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let config = WebSocketConfig::default()
                .read_buffer_size(BUFFER_SIZE)
                .write_buffer_size(BUFFER_SIZE);
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            let (mut write, mut read) = ws.split();
            let mut inbox = hub.subscribe();
            let writer = tokio::spawn(async move {
                while let Ok(message) = inbox.recv().await {
                    if write.send(message).await.is_err() {
                        return;
                    }
                }
            });
            while let Some(Ok(message)) = read.next().await {
                if message.is_text() || message.is_binary() {
                    let _ = hub.send(message);
                }
            }
            writer.abort();
        });
    }
}
