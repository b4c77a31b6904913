//! `wss://` for `ws-cli client`: rustls with the system's roots, an extra CA file (`--ca`), or no
//! verification at all (`--insecure`, for a development server's self-signed certificate).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How the server's certificate is checked.
#[derive(Debug, Default, Clone)]
pub(crate) struct TlsOptions {
    /// PEM file of extra trusted certificates, on top of the system's.
    pub(crate) ca: Option<std::path::PathBuf>,
    /// Accept any certificate.
    pub(crate) insecure: bool,
}

/// The TLS client configuration for a `wss://` URL.
pub(crate) fn client_config(options: &TlsOptions) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS setup")?;
    let config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(options.ca.as_deref())?)
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The system's trusted roots plus every certificate of `ca`.
fn roots(ca: Option<&Path>) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a readable store still connects with --ca; the errors are not fatal.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(ca) = ca {
        let pem =
            std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))?;
        let certs = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("--ca {}: invalid PEM", ca.display()))?;
        if certs.is_empty() {
            bail!("--ca {} holds no certificate", ca.display());
        }
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("--ca {}: unusable certificate", ca.display()))?;
        }
    }
    Ok(roots)
}

/// `--insecure`: every certificate is accepted, the handshake signatures are still checked so
/// the session itself is sound.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
