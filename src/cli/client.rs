//! The connection to the server: a `rekey_client::Client` (bearer token, TLS, deadlines and
//! retries of idempotent rpcs come with it) and the output mode.

use std::path::PathBuf;
use std::time::Duration;

use rekey_client::Client;
use tonic::transport::Channel;

use super::exit::{CliError, Exit};
use super::ConnectionArgs;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The token in REKEY_TOKEN, if set and not blank.
pub(super) fn env_token() -> Option<String> {
    env("REKEY_TOKEN")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A connected client and the output mode.
pub(super) struct Conn {
    client: Client,
    /// `--json`: machine output.
    pub(crate) json: bool,
}

impl Conn {
    /// Reads the token and connects (exit 6 when the server cannot be reached).
    pub(super) async fn connect(args: &ConnectionArgs) -> Result<Self, CliError> {
        let addr = normalize(&args.addr);
        let mut builder = Client::builder(addr.clone()).connect_timeout(CONNECT_TIMEOUT);
        match (&args.token_file, env_token()) {
            (Some(path), _) => builder = builder.token(read_token_file(path)?),
            (None, Some(token)) => builder = builder.token(token),
            (None, None) => {}
        }
        if let Some(ca) = args
            .ca_file
            .clone()
            .or_else(|| env("REKEY_CA_FILE").map(PathBuf::from))
        {
            builder = builder.ca_file(ca);
        }
        match (env("REKEY_CLIENT_CERT_FILE"), env("REKEY_CLIENT_KEY_FILE")) {
            (Some(cert), Some(key)) => builder = builder.client_identity_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(CliError::usage(
                    "REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE go together: set both for mTLS, or neither",
                ))
            }
        }
        let client = builder.connect().await.map_err(|e| match e {
            rekey_client::Error::Config { message } => CliError::usage(message),
            other => CliError::new(
                Exit::Unreachable,
                format!("cannot reach the Rekey server at {addr}: {other}"),
            ),
        })?;
        Ok(Self {
            client,
            json: args.json,
        })
    }

    /// Every rpc of the three services, as typed calls.
    pub(super) fn rpc(&self) -> &Client {
        &self.client
    }

    /// The standard health service (no token needed).
    pub(super) fn health(&self) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.client.channel())
    }
}

/// The token in `--token-file`; an unreadable or empty file is a usage error.
fn read_token_file(path: &PathBuf) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::usage(format!(
            "token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// `host:port` becomes `http://host:port`; `http://` and `https://` are kept (https needs
/// --ca-file or REKEY_CA_FILE unless the server's certificate chains to a public root).
fn normalize(addr: &str) -> String {
    let addr = addr.trim();
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_http() {
        assert_eq!(normalize("127.0.0.1:1"), "http://127.0.0.1:1");
        assert_eq!(normalize("http://h:2"), "http://h:2");
        assert_eq!(normalize(" https://h:2 "), "https://h:2");
    }

    #[test]
    fn an_empty_token_file_is_a_usage_error() {
        let dir = std::env::temp_dir().join(format!("rekey-cli-token-{}", std::process::id()));
        std::fs::write(&dir, "  \n").unwrap();
        let err = read_token_file(&dir).unwrap_err();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("is empty"), "{}", err.message);
    }
}
