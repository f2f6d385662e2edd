//! Optional TLS for both ports (rustls with ring), and mutual TLS on both: a client
//! certificate signed by `client_ca_file` whose subject is listed in `[[tls.clients]]` is
//! authenticated as the role and scope given there, without a bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::future::BoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// `[tls]` in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA certificates that sign client certificates; enables mutual TLS on both ports.
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

/// The HTTP server's TLS settings. With `client_ca_file`, a client certificate is asked for and
/// verified against it, as on gRPC; it stays optional (even with `require_client_cert`, which
/// is about gRPC) so that token callers and metrics scrapers keep working.
pub(crate) fn http(config: &TlsConfig) -> anyhow::Result<RustlsConfig> {
    let certs = CertificateDer::pem_file_iter(&config.cert_file)
        .with_context(|| format!("cannot read {}", config.cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid certificate in {}", config.cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .with_context(|| format!("invalid private key in {}", config.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match &config.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(optional_client_verifier(ca, provider)?),
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(server)))
}

/// The subject of the client certificate an HTTPS connection presented and the handshake
/// verified against `client_ca_file` (None without one): added to each request of the
/// connection, where the HTTP API reads it as gRPC reads `peer_certs()`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientSubject(pub(crate) Option<String>);

/// The HTTPS acceptor: the TLS handshake, then the verified client certificate's subject
/// attached to the connection's service, so that every request carries it.
#[derive(Debug, Clone)]
pub(crate) struct ClientCertAcceptor {
    tls: RustlsAcceptor,
}

impl ClientCertAcceptor {
    pub(crate) fn new(config: RustlsConfig) -> Self {
        Self {
            tls: RustlsAcceptor::new(config),
        }
    }
}

type TlsStream<S> = <RustlsAcceptor as Accept<TcpStream, S>>::Stream;

impl<S: Send + 'static> Accept<TcpStream, S> for ClientCertAcceptor {
    type Stream = TlsStream<S>;
    type Service = axum::middleware::AddExtension<S, ClientSubject>;
    type Future = BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let handshake = self.tls.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = handshake.await?;
            let (_, connection) = stream.get_ref();
            let subject = connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| subject_of(leaf));
            let with_subject =
                tower::Layer::layer(&axum::Extension(ClientSubject(subject)), service);
            Ok((stream, with_subject))
        })
    }
}

/// Verifies a client certificate against the CAs in `ca_file` when the client offers one;
/// a client without a certificate is let through (it authenticates with a token).
fn optional_client_verifier(
    ca_file: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("cannot read {}", ca_file.display()))?
    {
        let cert = cert.with_context(|| format!("invalid certificate in {}", ca_file.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("unusable CA certificate in {}", ca_file.display()))?;
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .with_context(|| format!("no usable CA certificate in {}", ca_file.display()))
}

/// The subject of a DER certificate, as "CN=…, O=…": what `[[tls.clients]]` entries name.
/// Public for the TLS tests, which configure a client by its certificate's subject.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.subject().to_string())
}
