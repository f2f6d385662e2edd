//! `rekey rotate-root-key` (offline re-wrap of the keystore under a new root key, in any
//! provider) and `rekey hsm init-key` (create the root key inside a PKCS#11 token).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::cli::serve::ServeArgs;
use crate::config::Config;
use crate::crypto::RootKey;
use crate::keystore::root::pkcs11::{self, InitKey, Pkcs11Root};
use crate::keystore::root::{rotation, RootKeyProvider};

/// Where the new root key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// A 32-byte key from --new-key-file.
    Local,
    /// The key of `[keystore.pkcs11]` (REKEY_PKCS11_*), or --new-key-label in that token.
    Pkcs11,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RotateRootKeyArgs {
    /// Where the new root key is: `local` (--new-key-file) or `pkcs11` (the token and key of
    /// [keystore.pkcs11] / REKEY_PKCS11_*). Default: local when --new-key-file is given.
    #[arg(long, value_enum)]
    pub(crate) to: Option<Target>,
    /// File holding the new root key as base64 of 32 bytes (e.g. `openssl rand -base64 32`).
    #[arg(long)]
    pub(crate) new_key_file: Option<PathBuf>,
    /// With --to pkcs11: the new key's label in the configured token, instead of
    /// keystore.pkcs11.key_label (to move from one token key to another).
    #[arg(long)]
    pub(crate) new_key_label: Option<String>,
    #[command(flatten)]
    pub(crate) server: ServeArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HsmCommand {
    /// Create the root key in the PKCS#11 token of [keystore.pkcs11] (REKEY_PKCS11_MODULE,
    /// REKEY_PKCS11_TOKEN_LABEL, REKEY_PKCS11_PIN): AES-256, generated inside the token,
    /// sensitive and never extractable. A fit key with that label is kept as it is.
    InitKey {
        /// The key's label, instead of keystore.pkcs11.key_label (default rekey-root).
        #[arg(long)]
        key_label: Option<String>,
        #[command(flatten)]
        server: ServeArgs,
    },
}

pub(super) async fn rotate_root_key(args: RotateRootKeyArgs) -> anyhow::Result<()> {
    let target = match (args.to, &args.new_key_file) {
        (Some(target), _) => target,
        (None, Some(_)) => Target::Local,
        (None, None) => bail!(
            "say where the new root key is: --new-key-file FILE (local) or --to pkcs11 (the \
             token and key of [keystore.pkcs11])"
        ),
    };
    let config = args.server.config()?;
    crate::telemetry::init(config.telemetry.log_format);
    let new: Arc<dyn RootKeyProvider> = match target {
        Target::Local => {
            let Some(path) = &args.new_key_file else {
                bail!("--to local needs --new-key-file FILE");
            };
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Arc::new(
                RootKey::from_base64(&text)
                    .with_context(|| format!("new root key in {}", path.display()))?,
            )
        }
        Target::Pkcs11 => {
            let mut settings = config.keystore.pkcs11.settings()?;
            if let Some(label) = &args.new_key_label {
                settings.key_label.clone_from(label);
            }
            Arc::new(
                tokio::task::spawn_blocking(move || Pkcs11Root::open(&settings))
                    .await
                    .context("opening the token")??,
            )
        }
    };
    let (store, old) = crate::server::open_keystore(&config).await?;
    let report = rotation::rotate_root_key(store.as_ref(), old.as_ref(), new.as_ref()).await?;
    if report.was_complete {
        println!(
            "The keystore already belongs to the new root key ({}, check value {}); nothing \
             to do.",
            new.describe(),
            new.check_value()
        );
        return Ok(());
    }
    let configure = match target {
        Target::Local => {
            "set it as REKEY_MASTER_KEY or master_key_file (and root_key_provider = \"local\") on \
             every replica"
        }
        Target::Pkcs11 => {
            "set root_key_provider = \"pkcs11\" (REKEY_ROOT_KEY_PROVIDER) with this token and \
             key label on every replica, and remove REKEY_MASTER_KEY / master_key_file (a \
             development key file in the data folder is no longer read)"
        }
    };
    println!(
        "Re-wrapped {} key versions under the new root key, {} ({} were done by an earlier \
         run).\nThe keystore now opens only with the new root key (check value {}): {configure}, \
         then start them.",
        report.rewrapped,
        new.describe(),
        report.already_done,
        new.check_value()
    );
    Ok(())
}

pub(super) async fn hsm(command: HsmCommand) -> anyhow::Result<()> {
    let HsmCommand::InitKey { key_label, server } = command;
    let config: Config = server.config()?;
    crate::telemetry::init(config.telemetry.log_format);
    let mut settings = config.keystore.pkcs11.settings()?;
    if let Some(label) = key_label {
        settings.key_label = label;
    }
    let label = settings.key_label.clone();
    let (outcome, check_value) = tokio::task::spawn_blocking(move || pkcs11::init_key(&settings))
        .await
        .context("creating the key")??;
    match outcome {
        InitKey::Created => println!(
            "Created the root key {label:?}: AES-256, generated in the token, never \
             extractable. Check value {check_value}.\nServe with it: REKEY_ROOT_KEY_PROVIDER=pkcs11 \
             (or keystore.root_key_provider = \"pkcs11\"); move an existing keystore to it \
             with `rekey rotate-root-key --to pkcs11`."
        ),
        InitKey::AlreadyThere => println!(
            "The token already holds a fit root key {label:?} (check value {check_value}); it \
             is left as it is."
        ),
    }
    Ok(())
}
