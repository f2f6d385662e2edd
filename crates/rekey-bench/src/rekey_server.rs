//! The real Rekey server, started in this process on the server runtime with the embedded
//! default (SQLite in a scratch folder); the credentials clients present to it (the
//! bootstrap admin token, and a scoped client token as an application would hold); and the
//! listeners both servers are given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rekey::clock::SystemClock;
use rekey::config::Config;
use rekey::proto::admin_service_client::AdminServiceClient;
use rekey::proto::CreateTokenRequest;
use rekey::server::RunningServer;
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Handle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::Request;

/// File in the data folder where Rekey's first start leaves the bootstrap admin token, once
/// authentication exists (`rekey::auth::BOOTSTRAP_TOKEN_FILE`).
const BOOTSTRAP_TOKEN_FILE: &str = "admin.token";

/// A Rekey server running in this process.
pub struct InProcess {
    pub server: RunningServer,
    /// `authorization` value of an admin token.
    pub admin: Option<AsciiMetadataValue>,
    _scratch: tempfile::TempDir,
}

impl InProcess {
    /// Starts Rekey on `runtime` (bound to 127.0.0.1:0) over a fresh SQLite keystore in a
    /// scratch folder; `adjust` edits the configuration first.
    pub async fn start(
        runtime: &Handle,
        nodelay: bool,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<InProcess> {
        let scratch = tempfile::Builder::new()
            .prefix("rekey-bench-")
            .tempdir()
            .context("scratch folder")?;
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: scratch.path().join("data"),
            ..Config::default()
        };
        // An operator-supplied admin token (REKEY_ADMIN_TOKEN), so that the first start does
        // not print a bootstrap token into the benchmark's output.
        let mut random = [0u8; 16];
        rekey::crypto::rng::fill(&mut random);
        let admin_token = format!("rekey-bench-admin-{}", hex::encode(random));
        config.admin_token = Some(admin_token.clone().into());
        // The HTTP admin API runs as in production, on a free port (several servers may run).
        config.http_listen = Some("127.0.0.1:0".parse()?);
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let server = runtime
            .spawn(async move {
                let listener = listener(nodelay)?;
                rekey::server::start(&config, listener, Arc::new(SystemClock)).await
            })
            .await
            .context("server start panicked")??;
        let admin = match bearer_from_data_dir(&data_dir)? {
            Some(bootstrap) => Some(bootstrap),
            None => Some(format!("Bearer {admin_token}").parse()?),
        };
        Ok(InProcess {
            server,
            admin,
            _scratch: scratch,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.grpc_addr())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.shutdown().await
    }
}

/// A listener on 127.0.0.1:0, bound as `rekey serve` binds (`TcpListener::bind`), or with
/// TCP_NODELAY also set on the listening socket (both servers set it on each connection
/// they accept anyway). Call it on the runtime that will serve.
pub fn listener(nodelay: bool) -> anyhow::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    if nodelay {
        socket.set_nodelay(true)?;
    }
    socket.bind("127.0.0.1:0".parse()?)?;
    Ok(socket.listen(1024)?)
}

/// A client token for the data plane, as an application holds one: role client, scoped to
/// the benchmark's keys and operations. `None` when the server has no authentication.
pub async fn client_token(
    channel: &Channel,
    admin: Option<&AsciiMetadataValue>,
    key_names: &[&str],
) -> anyhow::Result<Option<AsciiMetadataValue>> {
    let Some(admin) = admin else {
        return Ok(None);
    };
    let created = AdminServiceClient::new(channel.clone())
        .create_token(request(
            CreateTokenRequest {
                name: "rekey-bench load generator".into(),
                role: rekey::proto::TokenRole::Client as i32,
                key_names: key_names.iter().map(|k| (*k).to_owned()).collect(),
                operations: ["encrypt", "decrypt", "generate_data_key", "sign"]
                    .map(str::to_owned)
                    .to_vec(),
                expires_at: None,
            },
            Some(admin),
        ))
        .await
        .context("AdminService.CreateToken (a client token for the load)")?
        .into_inner();
    Ok(Some(
        format!("Bearer {}", created.token)
            .parse()
            .context("token is not ASCII")?,
    ))
}

/// The bootstrap token a first start wrote into `data_dir`, as an `authorization` value
/// (`None` while the server has no authentication).
pub fn bearer_from_data_dir(data_dir: &Path) -> anyhow::Result<Option<AsciiMetadataValue>> {
    let path: PathBuf = data_dir.join(BOOTSTRAP_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) => Ok(Some(
            format!("Bearer {}", token.trim())
                .parse()
                .context("token is not ASCII")?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// `message` as a request carrying `auth`, as every production client sends it.
pub fn request<T>(message: T, auth: Option<&AsciiMetadataValue>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = auth {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
    }
    request
}
