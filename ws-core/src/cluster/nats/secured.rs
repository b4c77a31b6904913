//! How a NATS node proves itself to its server: the URL's credentials and TLS.
//!
//! async-nats reads no credentials from a URL: `nats://app:s3cret@host` used to connect with
//! none, and the server's "authorization violation" was all one saw. So the userinfo is taken
//! out of the URL here and handed to the client's own options: `USER:PASSWORD` as user and
//! password, a lone `TOKEN` as a token (percent-decoded, as URLs carry them).

use std::sync::Arc;
use std::time::Duration;

use async_nats::{ConnectOptions, Event};
use percent_encoding::percent_decode_str;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::cluster::tls;
use crate::config::ClusterConfig;
use crate::error::ClusterError;

/// What the client connects with: the URL without its userinfo, the options carrying it, and
/// with TLS on a [`TlsProbe`] of the same server.
pub(crate) fn secure(
    config: &ClusterConfig,
    masked_url: &str,
    options: ConnectOptions,
) -> Result<(String, ConnectOptions, Option<TlsProbe>), ClusterError> {
    let (url, credentials) =
        split_credentials(&config.url).map_err(|reason| ClusterError::BadUrl {
            broker: "NATS",
            url: masked_url.to_string(),
            reason,
        })?;
    let options = match credentials {
        Some(Credentials::UserPassword(user, password)) => {
            options.user_and_password(user, password)
        }
        Some(Credentials::Token(token)) => options.token(token),
        None => options,
    };
    let (options, probe) = match tls::load(config, "NATS", masked_url)? {
        Some(tls) => {
            let probe = TlsProbe::new(&url, Arc::new(tls.client_config.clone()));
            let options = options
                .require_tls(true)
                .tls_client_config(tls.client_config);
            (options, probe)
        }
        None => (options, None),
    };
    Ok((url, options, probe))
}

/// A TLS handshake of our own with the server, to say why the client's failed: async-nats
/// reports a refused certificate only as "IO error".
pub(crate) struct TlsProbe {
    /// `host:port`.
    addr: String,
    host: ServerName<'static>,
    config: Arc<ClientConfig>,
}

impl TlsProbe {
    fn new(url: &str, config: Arc<ClientConfig>) -> Option<Self> {
        let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = authority.split(['/', '?', ',']).next().unwrap_or(authority);
        let (host, addr) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !port.contains(']') => {
                (host, authority.to_string())
            }
            _ => (authority, format!("{authority}:4222")),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = ServerName::try_from(host.to_string()).ok()?;
        Some(Self { addr, host, config })
    }

    /// Why TLS with the server fails, as rustls says it, or `None` when it did not fail (or
    /// the server could not be reached at all, which is not a TLS matter).
    pub(super) async fn failure(&self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.handshake())
            .await
            .ok()
            .flatten()
    }

    async fn handshake(&self) -> Option<String> {
        let tcp = tokio::net::TcpStream::connect(&self.addr).await.ok()?;
        // The server speaks first, in plain text: one INFO line, then the client upgrades.
        let mut plain = BufReader::new(tcp);
        let mut info = String::new();
        plain.read_line(&mut info).await.ok()?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        let mut stream = match connector
            .connect(self.host.clone(), plain.into_inner())
            .await
        {
            Ok(stream) => stream,
            Err(error) => return Some(error.to_string()),
        };
        // A server that refuses the client certificate says so after the handshake (TLS 1.3):
        // its alert is the first thing read. Silence or a protocol line means TLS works.
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await {
            Ok(Err(error)) => Some(error.to_string()),
            _ => None,
        }
    }
}

/// What a failed connect attempt, as the client reports it, says about this node: refused
/// credentials or a failed TLS handshake, or `None` for a server that is merely away.
pub(super) fn refusal(url: &str, event: &Event) -> Option<ClusterError> {
    use async_nats::{ClientError, ConnectErrorKind, ServerError};
    let denied = |reason: String| ClusterError::Denied {
        broker: "NATS",
        url: url.to_string(),
        reason: format!("{reason} (check the user and password or token in `[cluster] url`)"),
    };
    match event {
        // The client reports a failed attempt by its kind's own words only.
        Event::ClientError(ClientError::Other(kind)) => {
            if *kind == ConnectErrorKind::AuthorizationViolation.to_string()
                || *kind == ConnectErrorKind::Authentication.to_string()
            {
                Some(denied(kind.clone()))
            } else if *kind == ConnectErrorKind::Tls.to_string() {
                Some(ClusterError::Tls {
                    broker: "NATS",
                    url: url.to_string(),
                    reason: "the TLS handshake failed (is the server's certificate signed by `tls_ca`, does it name the URL's host, does the server accept the client certificate?)".into(),
                })
            } else {
                None
            }
        }
        Event::ServerError(ServerError::AuthorizationViolation) => {
            Some(denied("authorization violation".into()))
        }
        _ => None,
    }
}

/// The userinfo of a NATS URL.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// `url` without its userinfo, and the userinfo. It ends at the last `@`, as
/// [`mask_url`](crate::secret::mask_url) reads it, so an unescaped `@` in a password stays in
/// the password.
fn split_credentials(url: &str) -> Result<(String, Option<Credentials>), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok((url.to_string(), None));
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return Ok((url.to_string(), None));
    };
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
    };
    let credentials = match userinfo.split_once(':') {
        Some((user, password)) => {
            Credentials::UserPassword(decode(user, "user")?, decode(password, "password")?)
        }
        None => Credentials::Token(decode(userinfo, "token")?),
    };
    Ok((format!("{scheme}://{host}"), Some(credentials)))
}

#[cfg(test)]
mod tests {
    use super::{Credentials, split_credentials};

    #[test]
    fn user_and_password_leave_the_url() {
        assert_eq!(
            split_credentials("nats://app:s%40cret@127.0.0.1:4222").unwrap(),
            (
                "nats://127.0.0.1:4222".to_string(),
                Some(Credentials::UserPassword("app".into(), "s@cret".into()))
            )
        );
        assert_eq!(
            split_credentials("nats://app:p@ss@host:4222").unwrap().1,
            Some(Credentials::UserPassword("app".into(), "p@ss".into()))
        );
    }

    #[test]
    fn a_lone_userinfo_is_a_token() {
        assert_eq!(
            split_credentials("nats://s3cr3t@host:4222").unwrap(),
            (
                "nats://host:4222".to_string(),
                Some(Credentials::Token("s3cr3t".into()))
            )
        );
    }

    #[test]
    fn a_url_without_userinfo_is_kept() {
        assert_eq!(
            split_credentials("nats://127.0.0.1:4222").unwrap(),
            ("nats://127.0.0.1:4222".to_string(), None)
        );
    }
}
