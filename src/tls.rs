//! Optional TLS for both ports (rustls with ring), and mutual TLS on the gRPC port: a client
//! certificate signed by `client_ca_file` whose subject is listed in `[[tls.clients]]` is
//! authenticated as the role and scope given there, without a bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// `[tls]` in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA certificates that sign client certificates; enables mutual TLS on gRPC.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Refuse gRPC connections without a client certificate (default: a token is enough).
    #[serde(default)]
    pub require_client_cert: bool,
    /// Client certificate subjects and the role they map to.
    #[serde(default)]
    pub clients: Vec<CertClient>,
}

/// A client certificate subject mapped to a role, e.g.
/// `subject = "CN=billing-service, O=Acme"` (the subject as `rekey` logs it on a refused
/// handshake: attributes in certificate order, separated by ", ").
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertClient {
    pub subject: String,
    /// "admin" or "client".
    pub role: String,
    #[serde(default)]
    pub key_names: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The gRPC server's TLS settings.
pub(crate) fn grpc(config: &TlsConfig) -> anyhow::Result<ServerTlsConfig> {
    let identity = Identity::from_pem(read(&config.cert_file)?, read(&config.key_file)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.client_ca_file {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(!config.require_client_cert);
    }
    Ok(tls)
}

/// The HTTP server's TLS settings (server certificate only: HTTP callers use tokens).
pub(crate) fn http(config: &TlsConfig) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    let certs = CertificateDer::pem_file_iter(&config.cert_file)
        .with_context(|| format!("cannot read {}", config.cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid certificate in {}", config.cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .with_context(|| format!("invalid private key in {}", config.key_file.display()))?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS certificate and key do not match")?;
    let mut server = server;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(server),
    ))
}

/// The subject of a DER certificate, as "CN=…, O=…": what `[[tls.clients]]` entries name.
/// Public for the TLS tests, which configure a client by its certificate's subject.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.subject().to_string())
}
