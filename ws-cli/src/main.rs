//! `ws-cli`: command-line companion of the ws framework.
//!
//! Each subcommand lives in its own module exposing an `Args` struct and a
//! synchronous `run` that builds the runtime it needs (the benchmark chooses
//! its thread count, the client must not wait on stdin at shutdown).

mod bench;
mod client;
mod connect;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ws-cli",
    version,
    about = "Client, load generator and tooling for the ws framework"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to a WebSocket endpoint and exchange text messages (like wscat)
    Client(client::ClientArgs),
    /// Load-test an echo endpoint: throughput and latency, handshakes, or idle connections
    Bench(bench::BenchArgs),
    /// Plain tokio-tungstenite echo server used as the benchmark baseline
    #[command(name = "bench-baseline-server", hide = true)]
    BenchBaselineServer(bench::echo_server::ServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Client(args) => client::run(args),
        Command::Bench(args) => bench::run(args),
        Command::BenchBaselineServer(args) => bench::echo_server::run(args),
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
