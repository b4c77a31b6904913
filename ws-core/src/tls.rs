//! TLS (`wss://`, `https://`) through rustls, from PEM files named in config.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;

use crate::BootError;
use crate::config::TlsSettings;

pub(crate) fn acceptor(server: &str, tls: &TlsSettings) -> Result<TlsAcceptor, BootError> {
    let error = |reason: String| BootError::Tls {
        server: server.to_string(),
        reason,
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path)
            .map_err(|e| error(format!("cannot read {what} {}: {e}", path.display())))
    };
    let cert_pem = read(&tls.cert, "certificate")?;
    let key_pem = read(&tls.key, "key")?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            error(format!(
                "{}: invalid PEM certificate: {e}",
                tls.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(error(format!(
            "{} holds no certificate",
            tls.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| error(format!("{}: invalid PEM key: {e}", tls.key.display())))?
        .ok_or_else(|| error(format!("{} holds no private key", tls.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            error(format!(
                "certificate and key do not match or are unusable: {e}"
            ))
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
