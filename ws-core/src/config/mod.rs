//! `config/server.toml`: servers, limits, cluster and logging, with environment overrides.
//!
//! The file mirrors Hyperf's `config/autoload/server.php`:
//!
//! ```toml
//! [[servers]]
//! name = "http"
//! type = "http"
//! host = "0.0.0.0"
//! port = 9501
//!
//! [[servers]]
//! name = "ws"
//! type = "websocket"
//! host = "0.0.0.0"
//! port = 9502
//! [servers.settings]
//! max_message_size = 1048576
//! ```
//!
//! Environment overrides, applied after the file: `WS_SERVER_<NAME>_HOST`, `WS_SERVER_<NAME>_PORT`
//! (NAME upper-cased, `-` as `_`), `WS_CLUSTER_URL`, `WS_CLUSTER_TLS`,
//! `WS_CLUSTER_TLS_CA`, `WS_CLUSTER_TLS_CERT`, `WS_CLUSTER_TLS_KEY`, `WS_LOG_LEVEL`, `WS_LOG_FORMAT`. The folder comes
//! from `--config DIR`, else `WS_CONFIG_DIR`, else `./config`, else the app crate's own `config/`
//! folder (so `cargo run -p app` works from anywhere in a workspace). A `.env` file in the working
//! directory is read first, as Hyperf does; variables already set win.

mod client;
mod cluster;
mod compression;
mod env;
mod error;
mod recovery;
mod settings;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use client::canonical;
pub use client::{ForwardedHeader, TrustedProxy, TrustedProxyError};
pub use cluster::ClusterConfig;
pub use compression::CompressionSettings;
pub use error::ConfigError;
pub use recovery::RecoverySettings;
pub use settings::{
    BackpressurePolicy, ServerSettings, SocketIoSettings, SocketIoTransport, TlsSettings,
};

/// The file name looked up inside the config folder.
pub(crate) const SERVER_FILE: &str = "server.toml";

/// The whole configuration of an app.
///
/// ```
/// let config = ws_core::Config::from_toml_str(r#"
///     [[servers]]
///     name = "ws"
///     type = "websocket"
///     port = 9502
/// "#).unwrap();
/// assert_eq!(config.servers[0].host, "0.0.0.0");
/// assert_eq!(config.servers[0].settings.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The servers to start, in order.
    #[serde(default)]
    pub servers: Vec<ServerConfig>,
    /// The cluster backplane.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Process-wide behaviour.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Metrics and health endpoints on an HTTP server.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Free-form values of the application, read with [`Config::value`].
    #[serde(default)]
    pub app: toml::Table,
    /// Where the config was read from, for error messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// One `[[servers]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The server's name, used by routes (`server = "ws"`).
    pub name: String,
    /// `http` or `websocket`.
    #[serde(rename = "type")]
    pub kind: ServerKind,
    /// The address to bind; `0.0.0.0` by default.
    #[serde(default = "default_host")]
    pub host: String,
    /// The port to bind; `0` picks a free one.
    pub port: u16,
    /// Limits and options of this server.
    #[serde(default)]
    pub settings: ServerSettings,
}

fn default_host() -> String {
    "0.0.0.0".to_string()
}

/// What a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// Plain HTTP/1.1 (Hyperf's `SERVER_HTTP`).
    Http,
    /// WebSocket (Hyperf's `SERVER_WEBSOCKET`).
    Websocket,
}

impl ServerKind {
    /// The word used in the seed's `... Server listening at` lines.
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Http => "HTTP",
            ServerKind::Websocket => "WebSocket",
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `ws_core=debug`; `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `pretty` (human) or `json` (one object a line).
    #[serde(default)]
    pub format: LogFormat,
}

fn default_log_level() -> String {
    "info".to_string()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[runtime]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// How long shutdown waits for connections to finish their closing handshake, in milliseconds.
    #[serde(default = "default_drain_ms")]
    pub drain_timeout_ms: u64,
    /// Worker threads of the tokio runtime; `0` means one per core (the cores this process
    /// may run on). With one, the runtime is tokio's current-thread scheduler.
    #[serde(default)]
    pub worker_threads: usize,
}

fn default_drain_ms() -> u64 {
    5_000
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            drain_timeout_ms: default_drain_ms(),
            worker_threads: 0,
        }
    }
}

/// `[metrics]`: `/metrics`, `/health` and `/ready` on an HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether the endpoints are served.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The HTTP server that serves them; the first `http` server when unset.
    #[serde(default)]
    pub server: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            server: None,
        }
    }
}

impl Config {
    /// Loads `server.toml` from `dir` (or the folder named by `WS_CONFIG_DIR`, else `./config`),
    /// then applies the environment overrides.
    pub fn load(dir: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_fallback(dir, None)
    }

    /// Like [`Config::load`], falling back to `fallback` when neither `dir`, `WS_CONFIG_DIR` nor
    /// `./config/server.toml` exists.
    pub fn load_with_fallback(
        dir: Option<&Path>,
        fallback: Option<&Path>,
    ) -> Result<Self, ConfigError> {
        let dir = match (dir, std::env::var_os("WS_CONFIG_DIR")) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(env_dir)) => PathBuf::from(env_dir),
            (None, None) => {
                let local = PathBuf::from("config");
                match fallback {
                    Some(fallback) if !local.join(SERVER_FILE).exists() => fallback.to_path_buf(),
                    _ => local,
                }
            }
        };
        let file = dir.join(SERVER_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, Some(&file), |key| std::env::var(key).ok())
    }

    /// Parses a config from TOML text, without environment overrides.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, None, |_| None)
    }

    /// Parses `text` as read from `file`, with `env` looked up for overrides.
    pub fn parse(
        text: &str,
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_name = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(SERVER_FILE));
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::syntax(&file_name, text, e.span(), e.message())
        })?;
        let deserialize = |table: toml::Table| -> Result<Config, ConfigError> {
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                ConfigError::Invalid {
                    file: file_name.clone(),
                    key: e.path().to_string(),
                    reason: e.inner().message().to_string(),
                }
            })
        };
        // The file as written first: an override must not hide an invalid value in the file,
        // which would surface the day the variable is unset.
        deserialize(table.clone())?;
        env::apply_overrides(&mut table, &file_name, &env)?;
        let mut config = deserialize(table)?;
        config.source = file.map(Path::to_path_buf);
        // Relative to the config's own folder, so `cargo run`, a test and a service manager
        // started elsewhere all find the same files.
        if let Some(folder) = file.and_then(Path::parent) {
            for server in &mut config.servers {
                if let Some(tls) = server.settings.tls.as_mut() {
                    for path in [&mut tls.cert, &mut tls.key] {
                        if path.is_relative() {
                            *path = folder.join(&*path);
                        }
                    }
                }
            }
            config.cluster.resolve_paths(folder);
        }
        config.validate(&file_name)?;
        Ok(config)
    }

    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        let mut ports = HashSet::new();
        for (index, server) in self.servers.iter().enumerate() {
            let invalid = |key: &str, reason: String| ConfigError::Invalid {
                file: file.to_path_buf(),
                key: format!("servers[{index}].{key}"),
                reason,
            };
            if server.name.trim().is_empty() {
                return Err(invalid("name", "must not be empty".into()));
            }
            if !names.insert(server.name.as_str()) {
                return Err(invalid(
                    "name",
                    format!("duplicate server name `{}`", server.name),
                ));
            }
            // Port 0 asks the OS for a free port, so several servers may use it at once.
            if server.port != 0 && !ports.insert((server.host.as_str(), server.port)) {
                return Err(invalid(
                    "port",
                    format!("port {} is already used by another server", server.port),
                ));
            }
            server
                .settings
                .validate()
                .map_err(|(key, reason)| invalid(&format!("settings.{key}"), reason))?;
            if server.kind == ServerKind::Http {
                // An HTTP server has no upgrade to refuse: a cap there would be silently ignored.
                for (key, value) in [
                    (
                        "max_connections_per_client",
                        server.settings.max_connections_per_client,
                    ),
                    (
                        "max_handshake_rate_per_client",
                        server.settings.max_handshake_rate_per_client as usize,
                    ),
                ] {
                    if value != 0 {
                        return Err(invalid(
                            &format!("settings.{key}"),
                            "applies to websocket servers only; limit HTTP clients in the proxy in front".into(),
                        ));
                    }
                }
            }
        }
        self.cluster
            .validate()
            .map_err(|(key, reason)| ConfigError::Invalid {
                file: file.to_path_buf(),
                key: format!("cluster.{key}"),
                reason,
            })?;
        Ok(())
    }

    /// The server named `name`.
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// A value of the free-form `[app]` table by its full dotted key, Hyperf's
    /// `config('app.name')`.
    ///
    /// ```
    /// let config = ws_core::Config::from_toml_str("[app]\nname = \"chat\"\n[app.limits]\nrooms = 3").unwrap();
    /// assert_eq!(config.value::<String>("app.name").as_deref(), Some("chat"));
    /// assert_eq!(config.value::<u32>("app.limits.rooms"), Some(3));
    /// assert_eq!(config.value::<u32>("app.missing"), None);
    /// assert_eq!(config.value::<String>("name"), None); // not under `app.`
    /// ```
    pub fn value<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.raw_value(key)?.clone().try_into().ok()
    }

    /// The raw TOML value under a full dotted `app.` key.
    pub fn raw_value(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.strip_prefix("app.")?.split('.');
        let mut current: &toml::Value = self.app.get(parts.next()?)?;
        for part in parts {
            current = current.as_table()?.get(part)?;
        }
        Some(current)
    }

    /// The config as TOML with secrets (passwords in URLs, TLS key paths) masked, for `config`
    /// commands and logs.
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        masked.cluster.url = crate::secret::mask_url(&masked.cluster.url);
        if masked.cluster.tls_key.is_some() {
            masked.cluster.tls_key = Some(PathBuf::from("***"));
        }
        for server in &mut masked.servers {
            if let Some(tls) = &mut server.settings.tls {
                tls.key = PathBuf::from("***");
            }
        }
        toml::to_string_pretty(&masked).unwrap_or_else(|e| format!("# cannot print config: {e}"))
    }
}

#[cfg(test)]
mod tests;
