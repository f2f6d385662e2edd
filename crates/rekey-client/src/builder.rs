//! Building a [`Client`]: address, token, TLS, timeouts, retries and the observer, given in
//! code or read from the environment (`REKEY_*`; address and token as the CLI reads them).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use zeroize::Zeroizing;

use crate::client::{Client, Settings};
use crate::error::Error;
use crate::observer::Observer;
use crate::retry::RetryPolicy;

/// The address used when `REKEY_ADDR` is not set.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

/// Options of a [`Client`]; start with [`Client::builder`] or [`ClientBuilder::from_env`].
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct ClientBuilder {
    addr: String,
    token: Option<Zeroizing<String>>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    identity_files: Option<(PathBuf, PathBuf)>,
    connect_timeout: Duration,
    settings: Settings,
    observer: Option<Arc<dyn Observer>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("ca_file", &self.ca_file)
            .field("identity_files", &self.identity_files)
            .field("connect_timeout", &self.connect_timeout)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Defaults: no token, plain HTTP unless the address is `https://`, connect timeout 5 s,
    /// 10 s per attempt, 30 s per call in all, [`RetryPolicy::default`].
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            token: None,
            token_file: None,
            ca_file: None,
            identity_files: None,
            connect_timeout: Duration::from_secs(5),
            settings: Settings::default(),
            observer: None,
        }
    }

    /// Reads `REKEY_ADDR` (default [`DEFAULT_ADDR`]), `REKEY_TOKEN_FILE` or else `REKEY_TOKEN`,
    /// `REKEY_CA_FILE`, and `REKEY_CLIENT_CERT_FILE` with `REKEY_CLIENT_KEY_FILE` (mTLS).
    ///
    /// # Errors
    /// [`Error::Config`] when only one of the client certificate and key is set.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientBuilder::from_env`] over any source of variables (tests pass a map).
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self::new(get("REKEY_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned()));
        if let Some(path) = get("REKEY_TOKEN_FILE") {
            builder = builder.token_file(path);
        } else if let Some(token) = get("REKEY_TOKEN") {
            builder = builder.token(token);
        }
        if let Some(path) = get("REKEY_CA_FILE") {
            builder = builder.ca_file(path);
        }
        match (get("REKEY_CLIENT_CERT_FILE"), get("REKEY_CLIENT_KEY_FILE")) {
            (Some(cert), Some(key)) => builder = builder.client_identity_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(Error::Config {
                    message: "REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE go together: set \
                              both for mTLS, or neither"
                        .into(),
                })
            }
        }
        Ok(builder)
    }

    /// The bearer token sent on every call.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Zeroizing::new(token.into()));
        self.token_file = None;
        self
    }

    /// A file holding the bearer token (read once, when the client is built).
    #[must_use]
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self.token = None;
        self
    }

    /// PEM file of the CA that signed the server's certificate (for `https://` addresses).
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// PEM files of a client certificate and its private key, for mTLS.
    #[must_use]
    pub fn client_identity_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.identity_files = Some((cert.into(), key.into()));
        self
    }

    /// How long to wait for the TCP (and TLS) connection.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Default time one attempt may take (also sent to the server as `grpc-timeout`).
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.settings.attempt_timeout = timeout;
        self
    }

    /// Default time a call may take in all, retries and backoff included.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.settings.deadline = deadline;
        self
    }

    /// How transient failures of idempotent rpcs are retried.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// Most items [`Client::encrypt_many`] and its siblings put in one batch call (default
    /// 10,000, the server's default `keystore.max_batch_items`; at least 1).
    #[must_use]
    pub fn batch_max_items(mut self, n: usize) -> Self {
        self.settings.batch.max_items = n.max(1);
        self
    }

    /// Most bytes (values plus associated data) one batch call carries (default 16 MiB, the
    /// server's default `keystore.max_batch_bytes`; at least 1).
    #[must_use]
    pub fn batch_max_bytes(mut self, n: usize) -> Self {
        self.settings.batch.max_bytes = n.max(1);
        self
    }

    /// Told of every attempt and every cache hit or miss (metrics, tests).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Connects now, so that a wrong address or certificate fails here.
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable address, token or certificate file;
    /// [`Error::Unavailable`] when the server cannot be reached.
    pub async fn connect(self) -> Result<Client, Error> {
        let (endpoint, bearer) = self.endpoint()?;
        let channel = endpoint.connect().await.map_err(|e| Error::Unavailable {
            message: format!(
                "cannot reach the Rekey server at {}: {}",
                self.addr,
                chain(&e)
            ),
        })?;
        Ok(Client::new(channel, bearer, self.settings, self.observer))
    }

    /// Builds a client that connects on its first call (and reconnects as needed).
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable address, token or certificate file.
    pub fn connect_lazy(self) -> Result<Client, Error> {
        let (endpoint, bearer) = self.endpoint()?;
        Ok(Client::new(
            endpoint.connect_lazy(),
            bearer,
            self.settings,
            self.observer,
        ))
    }

    fn endpoint(&self) -> Result<(Endpoint, Option<MetadataValue<Ascii>>), Error> {
        let bearer = self.bearer()?;
        let addr = normalize(&self.addr);
        let mut endpoint = Endpoint::from_shared(addr.clone())
            .map_err(|_| config(format!("invalid Rekey address {addr:?}")))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        if addr.starts_with("https://") {
            endpoint = endpoint
                .tls_config(self.tls()?)
                .map_err(|e| config(format!("TLS configuration: {}", chain(&e))))?;
        } else if self.ca_file.is_some() || self.identity_files.is_some() {
            return Err(config(format!(
                "a CA or client certificate is set but the address {addr:?} is not https://"
            )));
        }
        Ok((endpoint, bearer))
    }

    fn tls(&self) -> Result<ClientTlsConfig, Error> {
        // No public root store is compiled in (it would be a dependency for every user);
        // Rekey servers are normally behind a private CA anyway.
        let ca = self.ca_file.as_ref().ok_or_else(|| {
            config("an https:// address needs the server's CA: set REKEY_CA_FILE or ca_file()")
        })?;
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        if let Some((cert, key)) = &self.identity_files {
            let key = Zeroizing::new(read(key)?);
            tls = tls.identity(Identity::from_pem(read(cert)?, key.as_slice()));
        }
        Ok(tls)
    }

    fn bearer(&self) -> Result<Option<MetadataValue<Ascii>>, Error> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => Zeroizing::new(token.trim().to_owned()),
            (None, Some(path)) => {
                let text = Zeroizing::new(read(path)?);
                let text = Zeroizing::new(String::from_utf8_lossy(&text).trim().to_owned());
                if text.is_empty() {
                    return Err(config(format!("token file {} is empty", path.display())));
                }
                text
            }
            (None, None) => return Ok(None),
        };
        // The error names no part of the token: it is a secret.
        let mut value: MetadataValue<Ascii> = format!("Bearer {}", token.as_str())
            .parse()
            .map_err(|_| config("the token contains characters that cannot be sent in a header"))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

fn config(message: impl Into<String>) -> Error {
    Error::Config {
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| config(format!("cannot read {}: {e}", path.display())))
}

/// `host:port` means `http://host:port`.
fn normalize(addr: &str) -> String {
    let addr = addr.trim();
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// An error and its sources on one line (tonic's own Display says only "transport error").
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> Result<ClientBuilder, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClientBuilder::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_environment_gives_address_token_and_certificates() {
        let b = lookup(&[]).unwrap();
        assert_eq!(b.addr, DEFAULT_ADDR);
        assert!(b.token.is_none());
        let b = lookup(&[("REKEY_ADDR", "10.0.0.1:1"), ("REKEY_TOKEN", "tok")]).unwrap();
        assert_eq!(b.addr, "10.0.0.1:1");
        assert_eq!(b.token.as_deref().map(String::as_str), Some("tok"));
        let b = lookup(&[("REKEY_TOKEN", "tok"), ("REKEY_TOKEN_FILE", "/t")]).unwrap();
        assert_eq!(b.token_file.as_deref(), Some(Path::new("/t")));
        assert!(b.token.is_none());
        let err = lookup(&[("REKEY_CLIENT_CERT_FILE", "/c")]).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let b = ClientBuilder::new("h:1").token("super-secret-token");
        let text = format!("{b:?}");
        assert!(!text.contains("super-secret"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn a_bad_token_is_refused_without_echoing_it() {
        let err = ClientBuilder::new("h:1")
            .token("sec\nret")
            .bearer()
            .unwrap_err();
        assert!(!err.to_string().contains("sec"), "{err}");
    }

    #[test]
    fn https_needs_a_ca_and_certificates_need_https() {
        let err = ClientBuilder::new("https://h:1").endpoint().unwrap_err();
        assert!(err.to_string().contains("REKEY_CA_FILE"), "{err}");
        let err = ClientBuilder::new("http://h:1")
            .ca_file("/ca.pem")
            .endpoint()
            .unwrap_err();
        assert!(err.to_string().contains("not https"), "{err}");
        assert_eq!(normalize("h:1"), "http://h:1");
    }
}
