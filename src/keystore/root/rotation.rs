//! Root-key rotation: re-wraps every stored key version under a new root key, then records the
//! new root key's check value. Run it with every replica stopped (they hold the old root key).
//! The two keys may sit in any providers: local to pkcs11, one token key to another, pkcs11
//! back to local for a recovery drill.
//!
//! It is resumable: a version that already opens with the new root key is left alone, so a run
//! interrupted at any point is finished by running it again with the same two keys. Until the
//! final step the keystore still belongs to the old root key (a server refuses the new one), so
//! an interrupted run never leaves a keystore that no configured key opens.

use anyhow::{bail, Context};
use tracing::info;

use super::{unwrap_one, RootKeyProvider};
use crate::keystore::store::KeyStore;

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RootRotationReport {
    /// Versions re-wrapped by this run.
    pub(crate) rewrapped: u64,
    /// Versions found already wrapped under the new root key (an earlier, interrupted run).
    pub(crate) already_done: u64,
    /// True when the keystore already belonged to the new root key before this run.
    pub(crate) was_complete: bool,
}

pub(crate) async fn rotate_root_key(
    store: &dyn KeyStore,
    old: &dyn RootKeyProvider,
    new: &dyn RootKeyProvider,
) -> anyhow::Result<RootRotationReport> {
    if old.check_value() == new.check_value() {
        bail!("the new root key is the same as the current one");
    }
    let stored = store.root_check_value(old.check_value()).await?;
    if stored == new.check_value() {
        return Ok(RootRotationReport {
            was_complete: true,
            ..RootRotationReport::default()
        });
    }
    if stored != old.check_value() {
        bail!(
            "the current root key does not open this keystore (its check value is {stored}, the \
             key given has {}); pass the root key the servers use now",
            old.check_value()
        );
    }
    let mut report = RootRotationReport::default();
    for key in store.list_keys().await? {
        for version in store.list_versions(&key.name).await? {
            let (name, number) = (key.name.as_str(), version.version);
            let wrapped = &version.wrapped_material;
            let material = match unwrap_one(old, name, number, wrapped).await {
                Ok(material) => material,
                Err(err @ super::RootKeyError::Unavailable { .. }) => {
                    return Err(err).context("the current root key cannot be used")
                }
                Err(_) if unwrap_one(new, name, number, wrapped).await.is_ok() => {
                    report.already_done += 1;
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("key {name} version {number} opens with neither root key")
                    })
                }
            };
            let wrapped = new
                .wrap(name, number, &material)
                .await
                .context("the new root key cannot wrap")?;
            // Check before writing: a row is never replaced by something that does not open.
            let reopened = unwrap_one(new, name, number, &wrapped)
                .await
                .context("the re-wrapped material does not open with the new root key")?;
            if reopened.expose() != material.expose() {
                bail!("the new root key unwrapped key {name} version {number} to other bytes");
            }
            store
                .replace_wrapped_material(&key.name, version.version, &wrapped)
                .await?;
            report.rewrapped += 1;
        }
    }
    if !store
        .replace_root_check_value(old.check_value(), new.check_value())
        .await?
    {
        bail!("the keystore's root check value changed while re-wrapping; is another rotation running?");
    }
    info!(
        from = old.describe(),
        to = new.describe(),
        rewrapped = report.rewrapped,
        already_done = report.already_done,
        "root key rotated"
    );
    Ok(report)
}
