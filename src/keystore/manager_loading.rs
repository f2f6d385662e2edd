//! The key manager's loading of keys and its root key: the keyring loaded and refreshed from
//! the store (each version unwrapped by the root key once, and reused while its stored bytes
//! stay the same), a new version's material wrapped, and the root key's health.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::KeyManager;
use crate::crypto::KeyMaterial;
use crate::keystore::error::KeyResult;
use crate::keystore::keyring::LoadedKey;
use crate::keystore::root::{RootKeyError, RootKeyProvider};
use crate::keystore::store::{KeyRecord, NewVersion, VersionRecord};

impl KeyManager {
    /// Reloads every key from the database (the periodic refresh that bounds how long another
    /// replica's rotation takes to reach this one).
    /// A key that fails to load (its new version needs a root key that is unreachable) keeps
    /// its last loaded state, and the others are still refreshed; the first error is returned.
    pub(crate) async fn refresh_all(&self) -> KeyResult<()> {
        let mut first_error = None;
        for record in self.store.list_keys().await? {
            let rows = self.store.list_versions(&record.name).await?;
            if let Err(e) = self.load(record, rows).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Loads one key into the keyring, reusing the versions it already holds unchanged.
    pub(super) async fn load(
        &self,
        record: KeyRecord,
        rows: Vec<VersionRecord>,
    ) -> KeyResult<Arc<LoadedKey>> {
        let previous = self.keyring.get(&record.name);
        let loaded = LoadedKey::load(self.root.as_ref(), record, rows, previous.as_deref()).await?;
        Ok(self.keyring.insert(loaded))
    }

    /// Whether the root key can be used now (the health of `rekey.RootKey`).
    pub(crate) async fn check_root_key(&self) -> Result<(), RootKeyError> {
        let checked = self.root.check().await;
        self.root_available
            .store(checked.is_ok(), Ordering::Relaxed);
        checked
    }

    /// Whether the last root-key check passed.
    pub(crate) fn root_key_available(&self) -> bool {
        self.root_available.load(Ordering::Relaxed)
    }

    /// What holds the root key, for logs.
    pub(crate) fn root_key_provider(&self) -> &str {
        self.root.describe()
    }

    pub(super) async fn reload(&self, name: &str) -> KeyResult<Option<Arc<LoadedKey>>> {
        let Some(record) = self.store.get_key(name).await? else {
            return Ok(None);
        };
        let rows = self.store.list_versions(name).await?;
        Ok(Some(self.load(record, rows).await?))
    }

    pub(super) async fn wrap_version(
        &self,
        name: &str,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<NewVersion, RootKeyError> {
        Ok(NewVersion {
            wrapped_material: self.root.wrap(name, version, material).await?,
            check_value: material.check_value(),
        })
    }
}

/// Why a root key does not open a keystore, and what to configure.
pub(super) fn wrong_root_key(stored: &str, root: &dyn RootKeyProvider) -> String {
    let belongs_to = if stored.starts_with("pkcs11:") {
        "a root key in a PKCS#11 token"
    } else {
        "a local root key (REKEY_MASTER_KEY or master_key_file)"
    };
    format!(
        "the configured root key ({}) does not open this keystore: the keystore belongs to \
         {belongs_to} whose check value is {stored}, the configured one has {}. Configure the \
         root key the keystore was created or last rotated with",
        root.describe(),
        root.check_value()
    )
}
