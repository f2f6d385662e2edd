//! The connection to the server: address, bearer token, generated clients.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::exit::{chain, CliError, Exit};
use super::ConnectionArgs;
use crate::proto::admin_service_client::AdminServiceClient;
use crate::proto::key_service_client::KeyServiceClient;
use crate::proto::rotation_service_client::RotationServiceClient;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The token in REKEY_TOKEN, if set and not blank.
pub(super) fn env_token() -> Option<String> {
    std::env::var("REKEY_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Adds `authorization: Bearer <token>` to every request (nothing without a token: the server
/// then answers UNAUTHENTICATED).
#[derive(Clone)]
pub(super) struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    fn new(token: Option<String>) -> Result<Self, CliError> {
        let Some(token) = token else {
            return Ok(Self(None));
        };
        // The error names no part of the token: it is a secret.
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}").parse().map_err(|_| {
            CliError::usage("the token contains characters that cannot be sent in a header")
        })?;
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub(super) type Authed = InterceptedService<Channel, Bearer>;

/// A connected channel, the bearer token and the output mode.
pub(super) struct Conn {
    channel: Channel,
    bearer: Bearer,
    /// `--json`: machine output.
    pub(crate) json: bool,
}

impl Conn {
    /// Reads the token and connects (exit 6 when the server cannot be reached).
    pub(super) async fn connect(args: &ConnectionArgs) -> Result<Self, CliError> {
        let bearer = Bearer::new(read_token(args)?)?;
        let addr = normalize(&args.addr)?;
        let endpoint = Endpoint::from_shared(addr.clone())
            .map_err(|_| CliError::usage(format!("invalid --addr {addr:?}")))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|e| {
            CliError::new(
                Exit::Unreachable,
                format!("cannot reach the Rekey server at {addr}: {}", chain(&e)),
            )
        })?;
        Ok(Self {
            channel,
            bearer,
            json: args.json,
        })
    }

    pub(super) fn keys(&self) -> KeyServiceClient<Authed> {
        KeyServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }

    pub(super) fn rotation(&self) -> RotationServiceClient<Authed> {
        RotationServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }

    /// The standard health service (no token needed).
    pub(super) fn health(&self) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel.clone())
    }

    pub(super) fn admin(&self) -> AdminServiceClient<Authed> {
        AdminServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
}

/// `--token-file` when given, else REKEY_TOKEN.
fn read_token(args: &ConnectionArgs) -> Result<Option<String>, CliError> {
    let Some(path) = &args.token_file else {
        return Ok(env_token());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::usage(format!(
            "token file {} is empty",
            path.display()
        )));
    }
    Ok(Some(token.to_owned()))
}

/// `host:port` becomes `http://host:port`; https is refused (this build has no TLS client).
fn normalize(addr: &str) -> Result<String, CliError> {
    let addr = addr.trim();
    if addr.starts_with("https://") {
        return Err(CliError::usage(
            "https:// addresses need TLS, which this build of rekey does not support",
        ));
    }
    if addr.contains("://") {
        Ok(addr.to_owned())
    } else {
        Ok(format!("http://{addr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_http() {
        assert_eq!(normalize("127.0.0.1:1").unwrap(), "http://127.0.0.1:1");
        assert_eq!(normalize("http://h:2").unwrap(), "http://h:2");
        assert_eq!(normalize("https://h:2").unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn a_bad_token_is_refused_without_echoing_it() {
        let err = Bearer::new(Some("sec\nret".into())).err().unwrap();
        assert_eq!(err.exit, Exit::Usage);
        assert!(!err.message.contains("sec"));
    }
}
