//! [`App`]: collects routes and providers, boots every configured server, shuts down gracefully.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cluster::{self, Backplane};
use crate::config::{Config, ServerKind};
use crate::di::Container;
use crate::fd::FdAllocator;
use crate::message::close_frame;
use crate::metrics::Metrics;
use crate::registration::{HttpRouteRegistration, WsControllerRegistration};
use crate::registry::Registry;
use crate::router::{RouteDef, RouteInfo, RouteOrigin, RouteTarget, ServerRoutes, duplicate};
use crate::server::{self, http::HttpShared, ws::ServerShared};
use crate::{BootError, Sender};

/// What every server of a running app shares.
pub(crate) struct AppShared {
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sender: Sender,
    pub(crate) fds: FdAllocator,
    pub(crate) config: Arc<Config>,
    pub(crate) backplane: Arc<dyn Backplane>,
}

/// An application: the servers of `config/server.toml`, the routes registered by the controller
/// macros, and any routes and providers added in code.
///
/// ```no_run
/// use ws_core::prelude::*;
///
/// #[derive(Default)]
/// struct Echo;
/// impl WebSocketHandler for Echo {
///     async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
///         conn.push(msg).await?;
///         Ok(())
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     let mut app = App::new();
///     app.router("ws").ws("/", Echo);
///     app.run()
/// }
/// ```
pub struct App {
    routes: Vec<RouteDef>,
    config: Option<Config>,
    fallback_config_dir: Option<PathBuf>,
    provided: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

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
    /// An app with no routes in code; macro-registered controllers are always included.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            config: None,
            fallback_config_dir: None,
            provided: HashMap::new(),
        }
    }

    /// Uses `config` instead of reading `config/server.toml`.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The config folder used when `--config`, `WS_CONFIG_DIR` and `./config` all give nothing;
    /// `#[ws_core::main]` sets it to the app crate's `config/` folder.
    pub fn fallback_config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fallback_config_dir = Some(dir.into());
        self
    }

    /// The routes of server `server` (Hyperf's `Router::addServer`).
    pub fn router(&mut self, server: &str) -> ServerRoutes<'_> {
        ServerRoutes {
            routes: &mut self.routes,
            server: server.to_string(),
        }
    }

    /// Makes `value` injectable as `Arc<T>`.
    pub fn provide<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.provided.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

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
                    print!("{}", render_routes(&app.route_table()));
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

    /// Every route, from the macros and from code, in a stable order.
    pub fn route_table(&self) -> Vec<RouteInfo> {
        let mut table: Vec<RouteInfo> = self.routes.iter().map(RouteDef::info).collect();
        for reg in inventory::iter::<WsControllerRegistration> {
            table.push(RouteInfo {
                server: reg.server.into(),
                methods: "WS".into(),
                path: reg.path.into(),
                controller: crate::di::short(reg.controller).into(),
                mode: "macro".into(),
            });
        }
        for reg in inventory::iter::<HttpRouteRegistration> {
            table.push(RouteInfo {
                server: reg.server.into(),
                methods: reg.methods.join("|"),
                path: reg.full_path(),
                controller: format!("{}::{}", crate::di::short(reg.controller), reg.handler),
                mode: "macro".into(),
            });
        }
        table.sort_by(|a, b| {
            (&a.server, &a.path, &a.methods).cmp(&(&b.server, &b.path, &b.methods))
        });
        table
    }

    /// Boots every configured server and returns once all are listening.
    pub async fn start(self) -> Result<RunningApp, BootError> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load(None)?,
        };
        let config = Arc::new(config);
        // Every connection holds a descriptor, and distributions default the soft limit to
        // 1,024, far below `max_connections`; the hard limit is as far as a process may raise
        // it itself. Failing to raise it is not fatal: accepts then fail one by one, logged.
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => tracing::debug!(limit, "open file limit"),
            Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
        }
        // Created before the backplane, which counts its failures in it, and the registry,
        // which counts what room pushes write.
        let metrics = Arc::new(Metrics::default());
        let registry = Arc::new(Registry::new(metrics.clone()));
        let backplane =
            cluster::connect(&config.cluster, registry.clone(), metrics.clone()).await?;
        let sender = Sender::new(registry.clone(), backplane.clone(), metrics.clone());
        let shared = Arc::new(AppShared {
            registry,
            metrics,
            sender: sender.clone(),
            fds: FdAllocator::new(backplane.node()),
            config: config.clone(),
            backplane,
        });

        let mut container = Container::new(sender.clone(), config.clone(), self.provided);
        let mut routes = self.routes;
        for reg in inventory::iter::<WsControllerRegistration> {
            let mut route = (reg.build)(&mut container)?;
            if !reg.protocols.is_empty() {
                route.protocols = reg.protocols.iter().map(|p| p.to_string()).collect();
            }
            routes.push(RouteDef {
                server: reg.server.into(),
                path: reg.path.into(),
                target: RouteTarget::Ws(route),
                origin: RouteOrigin {
                    controller: crate::di::short(reg.controller).into(),
                    mode: "macro",
                },
            });
        }
        for reg in inventory::iter::<HttpRouteRegistration> {
            let handler = (reg.build)(&mut container)?;
            let methods = reg
                .methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.as_bytes())
                        .map_err(|_| BootError::Route(format!("invalid method `{m}`")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            routes.push(RouteDef {
                server: reg.server.into(),
                path: reg.full_path(),
                target: RouteTarget::Http { methods, handler },
                origin: RouteOrigin {
                    controller: format!("{}::{}", crate::di::short(reg.controller), reg.handler),
                    mode: "macro",
                },
            });
        }
        if config.metrics.enabled {
            crate::observe::add_routes(&mut routes, &config, &shared);
        }

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tables = build_tables(&config, routes)?;
        let mut listeners = Vec::new();
        for server in &config.servers {
            listeners.push(server::bind(server)?);
        }
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for (server, listener) in config.servers.iter().zip(listeners) {
            let addr = listener.local_addr().map_err(|e| BootError::Bind {
                kind: server.kind.label(),
                server: server.name.clone(),
                addr: format!("{}:{}", server.host, server.port),
                reason: e.to_string(),
            })?;
            #[cfg(feature = "tls")]
            let tls = match &server.settings.tls {
                Some(tls) => Some(crate::tls::acceptor(&server.name, tls)?),
                None => None,
            };
            #[cfg(not(feature = "tls"))]
            if server.settings.tls.is_some() {
                return Err(BootError::Tls {
                    server: server.name.clone(),
                    reason: "built without the `tls` feature".into(),
                });
            }
            let (ws_table, http_table) = tables.remove(&server.name).unwrap_or_default();
            match server.kind {
                ServerKind::Websocket => {
                    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
                    let mut ws = ServerShared::new(
                        shared.clone(),
                        &server.name,
                        server.settings.clone(),
                        ws_table,
                    );
                    #[cfg(feature = "tls")]
                    {
                        ws.tls = tls;
                    }
                    let ws = Arc::new(ws);
                    if let Some(interval) = ws.loop_settings.ping_interval {
                        tasks.spawn(crate::heartbeat::sweep(
                            ws.clone(),
                            interval,
                            shutdown_rx.clone(),
                        ));
                    }
                    tasks.spawn(server::ws::serve(listener, ws, shutdown_rx.clone()));
                }
                ServerKind::Http => {
                    let http = HttpShared {
                        app: shared.clone(),
                        name: Arc::from(server.name.as_str()),
                        settings: server.settings.clone(),
                        table: http_table,
                        #[cfg(feature = "tls")]
                        tls,
                    };
                    tasks.spawn(server::http::serve(
                        listener,
                        Arc::new(http),
                        shutdown_rx.clone(),
                    ));
                }
            }
            tracing::info!(
                "{} Server listening at {}:{}",
                server.kind.label(),
                server.host,
                addr.port()
            );
            addrs.push((server.name.clone(), server.kind, addr));
        }
        shared
            .metrics
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(RunningApp {
            shared,
            addrs,
            shutdown: shutdown_tx,
            tasks,
        })
    }
}

type Tables = HashMap<String, (crate::router::WsTable, crate::router::HttpTable)>;

fn build_tables(config: &Config, routes: Vec<RouteDef>) -> Result<Tables, BootError> {
    let mut tables: Tables = HashMap::new();
    let mut http_routes: HashMap<(String, String), HashMap<Method, crate::http::BoxedHandler>> =
        HashMap::new();
    let source = config
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the config".into());
    for def in routes {
        let Some(server) = config.server(&def.server) else {
            return Err(BootError::Route(format!(
                "`{}` routes `{}` on server `{}`, which {source} does not define",
                def.origin.controller, def.path, def.server
            )));
        };
        match def.target {
            RouteTarget::Ws(ref route) => {
                if server.kind != ServerKind::Websocket {
                    return Err(BootError::Route(format!(
                        "`{}` is a WebSocket controller but server `{}` is of type `http`",
                        def.origin.controller, def.server
                    )));
                }
                let table = &mut tables.entry(def.server.clone()).or_default().0;
                if table.at(&def.path).is_ok_and(|m| m.value.0 == def.path) {
                    return Err(duplicate(&def, None));
                }
                table
                    .insert(def.path.clone(), (def.path.clone(), route.clone()))
                    .map_err(|e| {
                        BootError::Route(format!(
                            "server `{}` route `{}`: {e}",
                            def.server, def.path
                        ))
                    })?;
            }
            RouteTarget::Http {
                ref methods,
                ref handler,
            } => {
                if server.kind != ServerKind::Http {
                    return Err(BootError::Route(format!(
                        "`{}` is an HTTP route but server `{}` is of type `websocket`",
                        def.origin.controller, def.server
                    )));
                }
                let by_method = http_routes
                    .entry((def.server.clone(), def.path.clone()))
                    .or_default();
                for method in methods {
                    if by_method.insert(method.clone(), handler.clone()).is_some() {
                        return Err(duplicate(&def, Some(method)));
                    }
                }
            }
        }
    }
    for ((server, path), handlers) in http_routes {
        let table = &mut tables.entry(server.clone()).or_default().1;
        table
            .insert(path.clone(), handlers)
            .map_err(|e| BootError::Route(format!("server `{server}` route `{path}`: {e}")))?;
    }
    Ok(tables)
}

fn fail(error: &BootError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn render_routes(routes: &[RouteInfo]) -> String {
    let headers = ["SERVER", "METHOD", "PATH", "CONTROLLER", "MODE"];
    let rows: Vec<[&str; 5]> = routes
        .iter()
        .map(|r| {
            [
                r.server.as_str(),
                r.methods.as_str(),
                r.path.as_str(),
                r.controller.as_str(),
                r.mode.as_str(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A booted app. Dropping it does not stop the servers; call [`RunningApp::shutdown`].
pub struct RunningApp {
    shared: Arc<AppShared>,
    addrs: Vec<(String, ServerKind, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl RunningApp {
    /// The bound address of server `name` (useful with port 0).
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, a)| *a)
    }

    /// The app's [`Sender`].
    pub fn sender(&self) -> Sender {
        self.shared.sender.clone()
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Stops accepting, closes every connection with 1001, waits (bounded by
    /// `runtime.drain_timeout_ms`) for their closing handshakes and `on_close` callbacks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.shared
            .metrics
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .registry
            .close_all(&close_frame(1001, "server shutting down"));
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.shared.config.runtime.drain_timeout_ms);
        let live = || {
            self.shared
                .metrics
                .live_connections
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        while live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = live();
        if left > 0 {
            tracing::warn!(
                connections = left,
                "drain timeout reached; dropping the remaining connections"
            );
        }
        self.shared.backplane.shutdown().await;
        self.tasks.shutdown().await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
