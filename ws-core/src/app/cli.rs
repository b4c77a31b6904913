//! The app's command line, Hyperf's `bin/hyperf.php`: `start` (the default), `routes`, `config`;
//! and the runtime the app runs on.

use std::path::PathBuf;
use std::process::ExitCode;

use super::App;
use crate::BootError;
use crate::config::Config;

/// The app's command line, Hyperf's `bin/hyperf.php`: `start` (the default), `routes`, `config`.
#[derive(Debug, clap::Parser)]
#[command(about = "A ws-core application")]
struct Cli {
    /// Folder holding server.toml (default: $WS_CONFIG_DIR, else ./config).
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Start every configured server (the default).
    Start,
    /// Print every route: server, method, path and controller.
    Routes,
    /// Print the effective configuration after environment overrides, secrets masked.
    Config,
}

impl App {
    /// Parses the command line, reads the config, and runs the command: `start` (default) boots
    /// every server and serves until SIGINT or SIGTERM. Errors are printed as one line and give
    /// a non-zero exit code.
    pub fn run(self) -> ExitCode {
        self.run_with(|app| async move { Ok(app) })
    }

    /// Like [`App::run`], with `setup` run inside the runtime first (routes, providers, anything
    /// async); an `Err` from it is printed as one line and exits non-zero. `#[ws_core::main]`
    /// expands to this.
    pub fn run_with<F, Fut>(self, setup: F) -> ExitCode
    where
        F: FnOnce(App) -> Fut,
        Fut: std::future::Future<Output = crate::Result<App>>,
    {
        use clap::Parser;
        let cli = Cli::parse();
        // Hyperf reads `.env` at start; variables already set win.
        let _ = dotenvy::dotenv();
        let config = match &self.config {
            Some(config) => Ok(config.clone()),
            None => Config::load_with_fallback(
                cli.config.as_deref(),
                self.fallback_config_dir.as_deref(),
            ),
        };
        let config = match config {
            Ok(config) => config,
            Err(error) => return fail(&BootError::Config(error)),
        };
        let command = cli.command.unwrap_or(Command::Start);
        if matches!(command, Command::Start) {
            crate::telemetry::init(&config.log);
        }
        let workers = match config.runtime.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        // With one worker, the multi-thread scheduler only adds cross-thread hand-offs (the
        // accept loop on one thread, connections on another, both on the same core); a
        // current-thread runtime runs the same tasks with none.
        let mut runtime = if workers == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut runtime = tokio::runtime::Builder::new_multi_thread();
            runtime.worker_threads(workers);
            runtime
        };
        let runtime = match runtime.enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return fail(&BootError::Runtime(e.to_string())),
        };
        runtime.block_on(async move {
            let app = match setup(self).await {
                Ok(app) => app,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match command {
                Command::Routes => {
                    let mut table = app.route_table();
                    if let Err(error) = super::routes::check_servers(&config, &table) {
                        return fail(&error);
                    }
                    // Checked at boot by the Socket.IO route itself, not by `check_servers`.
                    table.extend(super::socketio::route_infos(&config));
                    table.sort_by(|a, b| (&a.server, &a.path).cmp(&(&b.server, &b.path)));
                    print!("{}", super::routes::render_routes(&table));
                    ExitCode::SUCCESS
                }
                Command::Config => {
                    print!("{}", config.to_masked_toml());
                    ExitCode::SUCCESS
                }
                Command::Start => match app.with_config(config).start().await {
                    Ok(running) => {
                        running.until_signal().await;
                        ExitCode::SUCCESS
                    }
                    Err(error) => fail(&error),
                },
            }
        })
    }
}

fn fail(error: &BootError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
