//! `[cluster]`: the backplane's broker, and how the node proves itself to it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[cluster]`: how nodes reach each other.
///
/// Credentials ride in the URL, as every Redis and NATS client takes them:
/// `redis://:PASSWORD@host:6379`, `redis://USER:PASSWORD@host:6379` (a Redis ACL user),
/// `nats://USER:PASSWORD@host:4222`, `nats://TOKEN@host:4222`. Characters other than letters,
/// digits and `-._~` in them are percent-encoded (`p@ss` is `p%40ss`). TLS is on for
/// `rediss://` URLs and whenever `tls = true`; `tls_ca` trusts a private CA instead of the
/// system's roots, `tls_cert` and `tls_key` present a client certificate (mutual TLS).
///
/// ```
/// let config = ws_core::Config::from_toml_str(r#"
///     [cluster]
///     url = "nats://app:s3cret@nats.internal:4222"
///     tls = true
///     tls_ca = "ca.pem"
/// "#).unwrap();
/// assert!(config.cluster.tls_enabled());
/// // Neither `Debug` nor the printed config shows the password.
/// assert!(!format!("{:?}", config.cluster).contains("s3cret"));
/// assert!(!config.to_masked_toml().contains("s3cret"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `memory://` (single node, the default), `redis://HOST:PORT`, `rediss://HOST:PORT` or
    /// `nats://HOST:PORT`, with credentials in the URL when the broker asks for them.
    #[serde(default = "default_cluster_url")]
    pub url: String,
    /// Prefix of every channel, subject and key, so several apps can share one broker.
    #[serde(default = "default_cluster_prefix")]
    pub prefix: String,
    /// How long a node's state outlives its last heartbeat, in milliseconds.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// How long a remote operation may wait for the broker or the owning node, in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Whether boot fails when the broker cannot be reached within 10 s. By default (`false`) a
    /// node whose broker is down at boot serves its own connections, answers `/ready` 503 and
    /// joins the cluster by itself once the broker is up.
    #[serde(default)]
    pub required_at_boot: bool,
    /// Whether the broker connection uses TLS (always on for `rediss://`).
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA that signed the broker's certificate; the system's roots when unset.
    /// Relative to the config folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate chain, for brokers that verify clients (mutual TLS). Relative to
    /// the config folder; needs `tls_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`. Relative to the config folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

fn default_cluster_url() -> String {
    "memory://".to_string()
}
fn default_cluster_prefix() -> String {
    "ws".to_string()
}
fn default_lease_ms() -> u64 {
    5_000
}
fn default_request_timeout_ms() -> u64 {
    2_000
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            url: default_cluster_url(),
            prefix: default_cluster_prefix(),
            lease_ms: default_lease_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            required_at_boot: false,
            tls: false,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// The URL's password or token is masked: a `Debug` print of the config is a log line too.
impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("url", &crate::secret::mask_url(&self.url))
            .field("prefix", &self.prefix)
            .field("lease_ms", &self.lease_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("required_at_boot", &self.required_at_boot)
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ClusterConfig {
    /// The URL's scheme: `memory`, `redis`, `rediss` or `nats`.
    pub fn scheme(&self) -> &str {
        self.url.split("://").next().unwrap_or_default()
    }

    /// Whether the broker connection uses TLS: `tls = true`, or a `rediss://` URL.
    pub fn tls_enabled(&self) -> bool {
        self.tls || self.scheme() == "rediss"
    }

    /// Makes the TLS paths relative to `dir` (the config folder) absolute.
    pub(super) fn resolve_paths(&mut self, dir: &Path) {
        for path in [&mut self.tls_ca, &mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }

    /// Checks the URL and the TLS keys; `(key, reason)` of the first problem.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.scheme(), "memory" | "redis" | "rediss" | "nats")
            || !self.url.contains("://")
        {
            return Err((
                "url",
                format!(
                    "`{}` is not a backplane URL (expected memory://, redis://HOST:PORT, rediss://HOST:PORT or nats://HOST:PORT)",
                    crate::secret::mask_url(&self.url)
                ),
            ));
        }
        let files = [
            ("tls_ca", &self.tls_ca),
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
        ];
        if self.scheme() == "memory" && (self.tls || files.iter().any(|(_, f)| f.is_some())) {
            return Err((
                "tls",
                "the memory:// backplane has no broker to secure".into(),
            ));
        }
        if let Some((key, _)) = files.iter().find(|(_, f)| f.is_some())
            && !self.tls_enabled()
        {
            return Err((key, "is set but TLS is off: set `tls = true`".into()));
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(("tls_key", "`tls_cert` needs `tls_key`".into())),
            (None, Some(_)) => Err(("tls_cert", "`tls_key` needs `tls_cert`".into())),
            _ => Ok(()),
        }
    }
}
