//! `ws-cli`: command-line companion of the ws framework.
//!
//! Each subcommand lives in its own module exposing an `Args` struct and a
//! synchronous `run` that builds the runtime it needs (the benchmark chooses
//! its thread count, the client must not wait on stdin at shutdown).

mod bench;
mod ci;
mod client;
mod connect;
mod dev;
mod perf;
mod scaffold;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ws-cli",
    version,
    about = "Scaffolding, client, load generator and tooling for the ws framework"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new app: servers, controllers, tests, ready for `cargo run` and `cargo test`
    New(scaffold::new::NewArgs),
    /// Add a WebSocket (--ws) or HTTP (--http) controller and its test to the current app
    #[command(name = "gen:controller")]
    GenController(scaffold::controller::ControllerArgs),
    /// Build, run and watch the app: rebuild on a change and restart gracefully (clients get 1001)
    Dev(dev::DevArgs),
    /// Connect to a WebSocket endpoint and exchange text messages (like wscat)
    Client(client::ClientArgs),
    /// Load-test an echo endpoint: throughput and latency, handshakes, or idle connections
    Bench(bench::BenchArgs),
    /// Benchmark the framework against a plain tokio-tungstenite echo server, side by side
    Perf(perf::PerfArgs),
    /// Plain tokio-tungstenite echo server used as the benchmark baseline
    #[command(name = "bench-baseline-server", hide = true)]
    BenchBaselineServer(bench::echo_server::EchoArgs),
    /// Plain tokio broadcast-channel fan-out server used as the room benchmark baseline
    #[command(name = "bench-baseline-fanout-server", hide = true)]
    BenchBaselineFanoutServer(bench::echo_server::ServerArgs),
    /// Bare hyper HTTP/1.1 server answering `hello`, the HTTP route benchmark baseline
    #[command(name = "bench-baseline-http-server", hide = true)]
    BenchBaselineHttpServer(bench::echo_server::ServerArgs),
    /// Socket.IO load generator (acked events, room emits), for `perf --only sio-ack,sio-room`
    #[command(name = "bench-socketio", hide = true)]
    BenchSocketIo(bench::socketio::BenchSocketIoArgs),
    /// One WebSocket connection whose pushes are read in batches, for the HTTP push benchmark
    #[command(name = "bench-push-reader", hide = true)]
    BenchPushReader(bench::push_reader::PushReaderArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::New(args) => scaffold::new::run(args),
        Command::GenController(args) => scaffold::controller::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Client(args) => client::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Perf(args) => perf::run(args),
        Command::BenchBaselineServer(args) => bench::echo_server::run(args),
        Command::BenchBaselineFanoutServer(args) => bench::echo_server::run_fanout(args),
        Command::BenchBaselineHttpServer(args) => bench::http_server::run(args),
        Command::BenchPushReader(args) => bench::push_reader::run(args),
        Command::BenchSocketIo(args) => bench::socketio::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` keeps the whole cause chain on one line, which is what
            // scripts grepping stderr expect.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
