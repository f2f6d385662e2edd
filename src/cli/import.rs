//! `rekey import vault-transit`: a key of HashiCorp Vault's Transit engine, from its backup,
//! becomes a Rekey key with all its versions, so the values Vault made decrypt through Rekey
//! (Transit's `decrypt`, gRPC `Decrypt` with `key_name`) and migrate to Rekey's format.
//! Like `rotate-root-key`, it opens the keystore with the server's configuration and root key
//! (a running server picks the key up at its next key refresh).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::cli::serve::ServeArgs;
use crate::clock::SystemClock;
use crate::keystore::store::{KeyPolicy, NewKey, Purpose, VersionState};
use crate::keystore::vault_backup::read_backup;
use crate::keystore::KeyManager;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ImportCommand {
    /// A Vault Transit key from its backup (`vault read -field=backup transit/backup/NAME` of a
    /// key with exportable=true and allow_plaintext_backup=true): every version is imported
    /// (below its min_decryption_version: retired; its latest: primary). Only aes256-gcm96
    /// keys that are neither derived nor convergent.
    VaultTransit(VaultTransitArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct VaultTransitArgs {
    /// File holding the backup string (or the JSON of the backup's HTTP answer); `-` reads
    /// stdin.
    #[arg(long)]
    pub(crate) backup: PathBuf,
    /// The key's name in Rekey (1 to 64 of A-Z a-z 0-9 _ . -); default: its name in Vault.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Days between scheduled rotations (the key's policy; declare it in [[keys]] to manage it
    /// from the configuration afterwards).
    #[arg(long, default_value_t = 90)]
    pub(crate) rotation_interval_days: i64,
    /// Days a rotated-out version keeps decrypting before it is due for retirement.
    #[arg(long, default_value_t = 30)]
    pub(crate) grace_period_days: i64,
    #[command(flatten)]
    pub(crate) server: ServeArgs,
}

pub(super) async fn run(command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::VaultTransit(args) = command;
    if args.rotation_interval_days < 1 || args.grace_period_days < 0 {
        bail!("--rotation-interval-days must be at least 1 and --grace-period-days at least 0");
    }
    let text = zeroize::Zeroizing::new(if args.backup.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the backup from stdin")?
    } else {
        std::fs::read_to_string(&args.backup)
            .with_context(|| format!("cannot read {}", args.backup.display()))?
    });
    let vault = read_backup(&text).context("the Vault backup")?;
    let name = args.name.unwrap_or_else(|| vault.vault_name.clone());
    let config = args.server.config()?;
    crate::telemetry::init(config.telemetry.log_format);
    let (store, root) = crate::server::open_keystore(&config).await?;
    let manager = KeyManager::open(
        store,
        root,
        Arc::new(SystemClock),
        config.key_manager_settings(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot open the keystore: {e}"))?;
    let key = NewKey {
        name: name.clone(),
        purpose: Purpose::EncryptDecrypt,
        policy: KeyPolicy {
            rotation_interval_secs: args.rotation_interval_days * crate::clock::SECS_PER_DAY,
            grace_period_secs: args.grace_period_days * crate::clock::SECS_PER_DAY,
        },
    };
    let actor = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    manager
        .import_key(&key, &vault.versions, &actor)
        .await
        .map_err(|e| anyhow::anyhow!("cannot import key {name:?}: {e}"))?;
    let count = |state| vault.versions.iter().filter(|v| v.state == state).count();
    let primary = vault
        .versions
        .iter()
        .find(|v| v.state == VersionState::Active)
        .map_or(0, |v| v.version);
    println!(
        "Imported Vault key {:?} as {name:?}: {} versions (primary {primary}, {} deprecated, {} \
         retired).\nIts Vault ciphertexts (vault:vN:...) now decrypt through Rekey's Transit API \
         and through Decrypt with key_name {name:?}; a [[targets]] entry for their column \
         migrates them to Rekey's format at the next rotation.",
        vault.vault_name,
        vault.versions.len(),
        count(VersionState::Deprecated),
        count(VersionState::Retired),
    );
    Ok(())
}
