//! `rekey serve`: run the server until SIGINT/SIGTERM, then drain.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use secrecy::SecretString;
use tracing::info;

use crate::clock::SystemClock;
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// TOML config file (optional). Environment variables REKEY_* override it.
    #[arg(long, env = "REKEY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// gRPC listen address (overrides config and REKEY_LISTEN).
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
    /// Data folder of the embedded SQLite keystore (overrides config and REKEY_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// HTTP admin API listen address, or `off` (overrides config and REKEY_HTTP_LISTEN).
    #[arg(long, value_name = "ADDR|off", value_parser = parse_http_listen)]
    pub(crate) http_listen: Option<HttpListen>,
    /// postgres://… to use PostgreSQL (overrides config and REKEY_DATABASE_URL).
    #[arg(long, hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Once serving, write the bound addresses to this file as JSON
    /// (`{"grpc":"127.0.0.1:50051","http":"127.0.0.1:8080"}`, `http` null when off), so a
    /// script or test that listens on port 0 learns the ports. Written whole (temporary
    /// file, then rename): a reader never sees half of it.
    #[arg(long, value_name = "PATH")]
    pub(crate) ready_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) client_options: ClientOptionsHidden,
}

/// `--http-listen`: an address, or `off` to serve no HTTP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpListen(Option<SocketAddr>);

fn parse_http_listen(value: &str) -> Result<HttpListen, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(HttpListen(None));
    }
    value
        .parse()
        .map(|addr| HttpListen(Some(addr)))
        .map_err(|_| format!("{value:?} is not an address like 127.0.0.1:8080, nor `off`"))
}

/// The client options (`--addr`, `--token-file`, `--ca-file`, `--json`) are global to the command line
/// but mean nothing to `serve`. Declared here under the same names and hidden, they take the
/// place of the global ones, so `rekey serve --help` lists only what configures the server.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientOptionsHidden {
    #[arg(id = "addr", long = "addr", hide = true)]
    _addr: Option<String>,
    #[arg(id = "token_file", long = "token-file", hide = true)]
    _token_file: Option<PathBuf>,
    #[arg(id = "ca_file", long = "ca-file", hide = true)]
    _ca_file: Option<PathBuf>,
    #[arg(id = "json", long = "json", hide = true)]
    _json: bool,
}

impl ServeArgs {
    /// The config file, then the environment, then these flags.
    pub(crate) fn config(self) -> anyhow::Result<Config> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let mut config = Config::load(self.config.as_deref(), &env)?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        if let Some(HttpListen(http)) = self.http_listen {
            config.http_listen = http;
        }
        if let Some(url) = self.database_url {
            config.database.url = Some(SecretString::from(url));
        }
        Ok(config)
    }
}

pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ready_file = args.ready_file.clone();
    let config = args.config()?;
    let _telemetry = crate::telemetry::init_server(
        config.telemetry.log_format,
        config.telemetry.trace_export().as_ref(),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let server = crate::server::start(&config, listener, Arc::new(SystemClock)).await?;
    if let Some(path) = &ready_file {
        if let Err(err) = write_ready_file(path, server.grpc_addr(), server.http_addr()) {
            server.stop_token().cancel();
            server.until_stopped().await?;
            return Err(err);
        }
    }
    let stop = server.stop_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown signal received; draining");
        stop.cancel();
    });
    server.until_stopped().await
}

/// `--ready-file`: the bound addresses as one JSON object, replaced atomically.
fn write_ready_file(
    path: &std::path::Path,
    grpc: SocketAddr,
    http: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "grpc": grpc.to_string(),
        "http": http.map(|a| a.to_string()),
    });
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{body}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write the ready file {}", path.display()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
