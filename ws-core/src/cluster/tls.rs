//! TLS to the cluster broker: the CA to trust (a `tls_ca` file, else the system's roots) and
//! the client certificate to present (mutual TLS), read once at boot so an unreadable or
//! invalid file fails there with [`ClusterError::Tls`] naming it, never at every reconnect.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::config::ClusterConfig;
use crate::error::ClusterError;

/// The TLS material of `[cluster]`, read and checked.
pub(super) struct BrokerTls {
    /// The `tls_ca` file as read, when one is named.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) ca_pem: Option<Vec<u8>>,
    /// The `tls_cert` and `tls_key` files as read, for mutual TLS.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) client_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// A client config built from the same material, for clients that take a whole one.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(super) client_config: ClientConfig,
}

/// Reads the TLS material of `config`; `None` when TLS is off. `broker` and `url` (masked)
/// name the broker in errors.
pub(super) fn load(
    config: &ClusterConfig,
    broker: &'static str,
    url: &str,
) -> Result<Option<BrokerTls>, ClusterError> {
    if !config.tls_enabled() {
        return Ok(None);
    }
    let error = |reason: String| ClusterError::Tls {
        broker,
        url: url.to_string(),
        reason,
    };
    let read = |path: &Path, key: &str| {
        std::fs::read(path).map_err(|e| error(format!("cannot read {key} {}: {e}", path.display())))
    };
    let certs = |pem: &[u8], path: &Path| {
        let certs = rustls_pemfile::certs(&mut &pem[..])
            .collect::<Result<Vec<CertificateDer<'static>>, _>>()
            .map_err(|e| error(format!("{}: invalid PEM certificate: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(error(format!("{} holds no certificate", path.display())));
        }
        Ok(certs)
    };

    let mut roots = RootCertStore::empty();
    let ca_pem = match &config.tls_ca {
        Some(path) => {
            let pem = read(path, "tls_ca")?;
            for cert in certs(&pem, path)? {
                roots.add(cert).map_err(|e| {
                    error(format!("{}: unusable CA certificate: {e}", path.display()))
                })?;
            }
            Some(pem)
        }
        None => {
            // Some unreadable system certificates are no reason to fail while others load.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(error(
                    "no system root certificate could be loaded; name the broker's CA with `tls_ca`"
                        .into(),
                ));
            }
            None
        }
    };

    let client = match (&config.tls_cert, &config.tls_key) {
        (Some(cert_path), Some(key_path)) => {
            let cert_pem = read(cert_path, "tls_cert")?;
            let key_pem = read(key_path, "tls_key")?;
            let chain = certs(&cert_pem, cert_path)?;
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
                .map_err(|e| error(format!("{}: invalid PEM key: {e}", key_path.display())))?
                .ok_or_else(|| error(format!("{} holds no private key", key_path.display())))?;
            Some((chain, key, cert_pem, key_pem))
        }
        // The config check makes these come in pairs.
        _ => None,
    };

    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| error(e.to_string()))?
            .with_root_certificates(roots);
    let (client_config, client_pem) = match client {
        Some((chain, key, cert_pem, key_pem)) => (
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                error(format!(
                    "tls_cert and tls_key do not match or are unusable: {e}"
                ))
            })?,
            Some((cert_pem, key_pem)),
        ),
        None => (builder.with_no_client_auth(), None),
    };
    Ok(Some(BrokerTls {
        ca_pem,
        client_pem,
        client_config,
    }))
}

/// Whether `error`, or an error it wraps, is a TLS failure: rustls reports a refused
/// certificate as an I/O error holding a [`rustls::Error`].
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(super) fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    type Shared = Arc<dyn std::error::Error + Send + Sync>;
    let mut current = Some(error);
    while let Some(mut error) = current {
        // The redis crate keeps the I/O error behind an `Arc`, which hides its type.
        if let Some(shared) = error.downcast_ref::<Shared>() {
            error = shared.as_ref();
        }
        if error.is::<rustls::Error>() {
            return true;
        }
        // `io::Error::source` skips the error it wraps, so that one is looked at here.
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> ClusterConfig {
        crate::Config::from_toml_str(&format!(
            "[cluster]\nurl = \"rediss://127.0.0.1:6380\"\n{extra}"
        ))
        .expect("config")
        .cluster
    }

    #[test]
    fn a_missing_file_is_named() {
        let Err(error) = load(&config("tls_ca = \"/nonexistent/ca.pem\""), "Redis", "u") else {
            panic!("loaded a missing CA");
        };
        let line = error.to_string();
        assert!(
            line.starts_with("TLS with Redis at u: cannot read tls_ca /nonexistent/ca.pem"),
            "{line}"
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("ws-broker-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca = dir.join("empty.pem");
        std::fs::write(&ca, "not a certificate\n").expect("write");
        let result = load(
            &config(&format!("tls_ca = {:?}", ca.display().to_string())),
            "NATS",
            "u",
        );
        let _ = std::fs::remove_dir_all(&dir);
        let Err(error) = result else {
            panic!("loaded an empty CA file");
        };
        assert!(
            error.to_string().contains("holds no certificate"),
            "{error}"
        );
    }

    #[test]
    fn a_wrapped_rustls_error_is_a_tls_failure() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_tls_failure(&io));
        let shared: Arc<dyn std::error::Error + Send + Sync> = Arc::new(io);
        assert!(is_tls_failure(&shared));
        assert!(!is_tls_failure(&std::io::Error::other(
            "connection refused"
        )));
    }

    #[test]
    fn tls_off_loads_nothing() {
        let config = ClusterConfig {
            url: "redis://127.0.0.1:6379".into(),
            ..ClusterConfig::default()
        };
        assert!(
            load(&config, "Redis", "u")
                .expect("nothing to load")
                .is_none()
        );
    }
}
