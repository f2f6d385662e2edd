//! Scenario 8, root key in a token: how long a server start takes to load 1,000 key versions
//! (100 with `--quick`) when the root key is in a SoftHSM2 token, where every version is
//! unwrapped by the token, against the same keystore shape under a local root key, started
//! alternately in the same run. Needs Debian's `softhsm2` and the `rekey` binary beside this
//! one (for `rekey hsm init-key`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rekey::clock::SystemClock;
use rekey::config::{Config, RootKeyProviderName};
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::{GetStatusRequest, KeyVersionState, RotateRequest};
use serde_json::json;
use tokio::runtime::Handle;
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::footprint::process::rekey_binary;
use crate::rekey_server::{listener, request};
use crate::report::{Section, TargetCheck, Unavailable};
use crate::stats::median;
use crate::table::Table;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN_LABEL: &str = "rekey-bench";
const PIN: &str = "bench-user-pin";
const ADMIN_TOKEN: &str = "rekey-bench-admin-token-for-the-root-key-scenario";
/// The goal for 1,000 versions on SoftHSM2.
const TARGET_MS: f64 = 2_000.0;
/// The managed keys every keystore starts with, one version each.
const KEYS: [&str; 5] = [
    "TOKEN_ENCRYPTION",
    "DATABASE_ENCRYPTION",
    "FILE_ENCRYPTION",
    "SESSION_ENCRYPTION",
    "API_SIGNATURE",
];

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    if !Path::new(MODULE).is_file() {
        return Err(Unavailable(format!(
            "{MODULE} not found: install Debian's softhsm2 (apt-get install softhsm2)"
        ))
        .into());
    }
    let binary = rekey_binary()?;
    let versions = if plan.quick { 100 } else { 1_000 };
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-root-key-")
        .tempdir()?;
    let conf = make_token(scratch.path())?;
    // This process loads the module once, with this token folder (nothing else here uses
    // PKCS#11).
    std::env::set_var("SOFTHSM2_CONF", &conf);
    init_key(&binary, &conf)?;

    let token = config(scratch.path(), "token", Provider::Token);
    let local = config(scratch.path(), "local", Provider::Local);
    for config in [&token, &local] {
        fill(server_rt, config, versions).await?;
    }
    let mut token_ms = Vec::new();
    let mut local_ms = Vec::new();
    for _ in 0..plan.rounds.max(3) {
        token_ms.push(time_start(server_rt, &token).await?);
        local_ms.push(time_start(server_rt, &local).await?);
    }
    let (token_median, local_median) = (median(&token_ms), median(&local_ms));
    let per_version_us = (token_median - local_median).max(0.0) * 1000.0 / versions as f64;
    let mut table = Table::new(
        &format!("Start with {versions} key versions (ms from start() to serving, median)"),
        &["root key", "median", "every round", "per version"],
    );
    table.row(vec![
        "SoftHSM2 (pkcs11)".into(),
        format!("{token_median:.0} ms"),
        join(&token_ms),
        format!("+{per_version_us:.0} µs"),
    ]);
    table.row(vec![
        "local (baseline)".into(),
        format!("{local_median:.0} ms"),
        join(&local_ms),
        String::new(),
    ]);
    table.print();
    let worst = token_ms.iter().copied().fold(0.0, f64::max);
    let mut checks = Vec::new();
    if versions == 1_000 {
        checks.push(TargetCheck::new(
            "1,000 key versions load from SoftHSM2",
            "< 2 s (every round)",
            format!("median {token_median:.0} ms, slowest {worst:.0} ms"),
            worst < TARGET_MS,
        ));
    }
    Ok(Section {
        value: json!({
            "versions": versions,
            "token_start_ms": token_ms,
            "local_start_ms": local_ms,
            "token_start_median_ms": token_median,
            "local_start_median_ms": local_median,
            "token_cost_per_version_us": per_version_us,
        }),
        checks,
    })
}

fn join(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A token folder, its `softhsm2.conf`, and an initialized token; returns the conf's path.
fn make_token(scratch: &Path) -> anyhow::Result<PathBuf> {
    let tokens = scratch.join("tokens");
    std::fs::create_dir(&tokens)?;
    let conf = scratch.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    let out = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", TOKEN_LABEL])
        .args(["--so-pin", "bench-so-pin", "--pin", PIN])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .map_err(|e| Unavailable(format!("softhsm2-util: {e} (apt-get install softhsm2)")))?;
    if !out.status.success() {
        bail!(
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(conf)
}

fn init_key(binary: &Path, conf: &Path) -> anyhow::Result<()> {
    let out = std::process::Command::new(binary)
        .args(["hsm", "init-key"])
        .env("SOFTHSM2_CONF", conf)
        .env("REKEY_PKCS11_MODULE", MODULE)
        .env("REKEY_PKCS11_TOKEN_LABEL", TOKEN_LABEL)
        .env("REKEY_PKCS11_PIN", PIN)
        .output()
        .context("rekey hsm init-key")?;
    if !out.status.success() {
        bail!(
            "rekey hsm init-key failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

enum Provider {
    Token,
    Local,
}

fn config(scratch: &Path, name: &str, provider: Provider) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        http_listen: None,
        data_dir: scratch.join(name),
        ..Config::default()
    };
    config.admin_token = Some(ADMIN_TOKEN.into());
    match provider {
        Provider::Token => {
            config.keystore.root_key_provider = RootKeyProviderName::Pkcs11;
            config.keystore.pkcs11.module = Some(MODULE.into());
            config.keystore.pkcs11.token_label = Some(TOKEN_LABEL.into());
            config.keystore.pkcs11.pin_env = Some(PIN.into());
        }
        Provider::Local => {
            let mut key = [0u8; 32];
            rekey::crypto::rng::fill(&mut key);
            config.keystore.master_key = Some(STANDARD.encode(key).into());
        }
    }
    config
}

/// Starts a server on `config`, rotates its keys until the keystore holds `versions`
/// versions, and stops it.
async fn fill(server_rt: &Handle, config: &Config, versions: usize) -> anyhow::Result<()> {
    let owned = config.clone();
    let server = server_rt
        .spawn(async move {
            rekey::server::start(&owned, listener(false)?, Arc::new(SystemClock)).await
        })
        .await??;
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr()))?
        .connect()
        .await?;
    let mut client = KeyServiceClient::new(channel);
    let auth = format!("Bearer {ADMIN_TOKEN}").parse()?;
    for i in 0..versions.saturating_sub(KEYS.len()) {
        let key = KEYS[i % KEYS.len()];
        client
            .rotate(request(
                RotateRequest {
                    key_name: key.into(),
                    force: true,
                },
                Some(&auth),
            ))
            .await
            .with_context(|| format!("Rotate {key}"))?;
    }
    // Every version must be one a start unwraps (none retired).
    let status = client
        .get_status(request(GetStatusRequest::default(), Some(&auth)))
        .await
        .context("GetStatus")?
        .into_inner();
    let loaded = status
        .keys
        .iter()
        .flat_map(|k| &k.versions)
        .filter(|v| v.state() != KeyVersionState::Retired)
        .count();
    server_rt.spawn(server.shutdown()).await??;
    if loaded != versions {
        bail!("the keystore holds {loaded} usable versions, expected {versions}");
    }
    Ok(())
}

/// Milliseconds from `rekey::server::start` to its return (every version loaded, serving).
async fn time_start(server_rt: &Handle, config: &Config) -> anyhow::Result<f64> {
    let owned = config.clone();
    let (elapsed, server) = server_rt
        .spawn(async move {
            let listener = listener(false)?;
            let started = Instant::now();
            let server = rekey::server::start(&owned, listener, Arc::new(SystemClock)).await?;
            anyhow::Ok((started.elapsed(), server))
        })
        .await??;
    server_rt.spawn(server.shutdown()).await??;
    // Let the stopped server's tasks wind down before the next start is timed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(elapsed.as_secs_f64() * 1000.0)
}
