//! `rekey rotate-root-key`: offline re-wrap of the keystore under a new root key.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::serve::ServeArgs;
use crate::crypto::RootKey;
use crate::keystore::root_rotation;

#[derive(Debug, clap::Args)]
pub(crate) struct RotateRootKeyArgs {
    /// File holding the new root key as base64 of 32 bytes (e.g. `openssl rand -base64 32`).
    #[arg(long)]
    pub(crate) new_key_file: PathBuf,
    #[command(flatten)]
    pub(crate) server: ServeArgs,
}

pub(super) async fn rotate_root_key(args: RotateRootKeyArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.new_key_file)
        .with_context(|| format!("cannot read {}", args.new_key_file.display()))?;
    let new = RootKey::from_base64(&text)
        .with_context(|| format!("new root key in {}", args.new_key_file.display()))?;
    let config = args.server.config()?;
    crate::telemetry::init(config.telemetry.log_format);
    let (store, old) = crate::server::open_keystore(&config).await?;
    let report = root_rotation::rotate_root_key(store.as_ref(), &old, &new).await?;
    if report.was_complete {
        println!(
            "The keystore already belongs to the new root key (check value {}); nothing to do.",
            new.check_value()
        );
    } else {
        println!(
            "Re-wrapped {} key versions under the new root key ({} were done by an earlier run).\n\
             The keystore now opens only with the new root key (check value {}): set it as \
             REKEY_MASTER_KEY or master_key_file on every replica, then start them.",
            report.rewrapped,
            report.already_done,
            new.check_value()
        );
    }
    Ok(())
}
