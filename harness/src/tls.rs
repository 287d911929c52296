//! Client-side TLS shared by every client of the harness ([`client_config`]): rustls with the ring
//! provider and only the run's CA as trust anchor, so a certificate from anywhere else fails.

use std::sync::{Arc, Once};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A failure to build a TLS client configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA bundle holds no usable certificate.
    #[error("the CA bundle holds no certificate")]
    EmptyBundle,
    /// A PEM block could not be parsed.
    #[error("failed to parse the CA bundle")]
    Pem(#[source] rustls::pki_types::pem::Error),
    /// rustls rejected a certificate as a trust anchor.
    #[error("failed to add the CA as a trust anchor")]
    Anchor(#[source] rustls::Error),
}

/// Installs ring as the process-wide rustls provider (idempotent). Several crates in the tree
/// compile rustls with different providers; without a process default, `ClientConfig::builder`
/// panics.
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Parses a PEM bundle into a root store.
pub fn root_store(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(TlsError::Pem)?)
            .map_err(TlsError::Anchor)?;
    }
    if roots.is_empty() {
        return Err(TlsError::EmptyBundle);
    }
    Ok(roots)
}

/// A rustls client configuration trusting only `ca_pem`, TLS 1.2 and 1.3.
pub fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    install_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(root_store(ca_pem)?)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Like [`client_config`], but certificates are judged as at `at` instead of now: chain and name
/// are verified as usual, so a server can be shown to present a given certificate even after
/// that certificate expired (certificate rollover confirms what is served this way).
pub fn client_config_at(
    ca_pem: &str,
    at: rustls::pki_types::UnixTime,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    #[derive(Debug)]
    struct FixedTime(rustls::pki_types::UnixTime);
    impl rustls::time_provider::TimeProvider for FixedTime {
        fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
            Some(self.0)
        }
    }
    install_provider();
    let config = rustls::ClientConfig::builder_with_details(
        Arc::new(rustls::crypto::ring::default_provider()),
        Arc::new(FixedTime(at)),
    )
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(root_store(ca_pem)?)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
