//! Opening Redis connections: the client for `[cluster]` (TLS for `rediss://` or `tls = true`;
//! the URL's user and password for `AUTH`, so ACL users work) and what a failure means. A
//! refused password or user ends the session as [`Fault::Refused`], not as a broker that is
//! merely down, so the node says so at error level and on `/ready`.

use std::time::Duration;

use redis::aio::{MultiplexedConnection, PubSub};

use crate::cluster::broker::{Broker, Core, Fault};
use crate::cluster::tls;
use crate::config::ClusterConfig;
use crate::error::ClusterError;

use super::Redis;

/// The client for `config`; fails for a URL or TLS files it cannot use. Connects nothing.
pub(crate) fn client(config: &ClusterConfig, url: &str) -> Result<redis::Client, ClusterError> {
    let bad_url = |e: redis::RedisError| ClusterError::BadUrl {
        broker: Redis::NAME,
        url: url.to_string(),
        reason: e.to_string(),
    };
    let Some(tls) = tls::load(config, Redis::NAME, url)? else {
        return redis::Client::open(config.url.as_str()).map_err(bad_url);
    };
    // `tls = true` on a `redis://` URL means what `rediss://` says.
    let target = match config.url.strip_prefix("redis://") {
        Some(rest) => format!("rediss://{rest}"),
        None => config.url.clone(),
    };
    // The redis crate builds its rustls config with the process's default crypto provider.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let certificates = redis::TlsCertificates {
        client_tls: tls
            .client_pem
            .map(|(client_cert, client_key)| redis::ClientTlsConfig {
                client_cert,
                client_key,
            }),
        root_cert: tls.ca_pem,
    };
    redis::Client::build_with_tls(target.as_str(), certificates).map_err(bad_url)
}

/// The multiplexed command connection of a session.
pub(super) async fn command(
    client: &redis::Client,
    core: &Core,
) -> Result<MultiplexedConnection, Fault> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(core.timeout))
        .set_response_timeout(Some(core.timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| fault(core, "connecting", &e))
}

/// The pub/sub connection of a session.
pub(super) async fn pubsub(client: &redis::Client, core: &Core) -> Result<PubSub, Fault> {
    tokio::time::timeout(
        core.timeout.max(Duration::from_millis(1)),
        client.get_async_pubsub(),
    )
    .await
    .map_err(|_| Fault::Down("connecting for pub/sub timed out".into()))?
    .map_err(|e| fault(core, "connecting for pub/sub", &e))
}

/// What `error`, met while `doing` something, means for the session: refused credentials or
/// a failed TLS handshake are [`Fault::Refused`], anything else [`Fault::Down`].
pub(super) fn fault(core: &Core, doing: &str, error: &redis::RedisError) -> Fault {
    let url = core.url.clone();
    let denied = error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"));
    if denied {
        // The server's words, without the client's own prefix.
        let reason = error
            .detail()
            .unwrap_or("authentication failed")
            .to_string();
        return Fault::Refused(ClusterError::Denied {
            broker: Redis::NAME,
            url,
            reason: format!(
                "{} ({doing}; check the user and password in `[cluster] url`)",
                error
                    .code()
                    .map_or(reason.clone(), |code| format!("{code} {reason}"))
            ),
        });
    }
    if tls::is_tls_failure(error) {
        return Fault::Refused(ClusterError::Tls {
            broker: Redis::NAME,
            url,
            reason: format!("{doing}: {error}"),
        });
    }
    Fault::Down(format!("{doing}: {error}"))
}
