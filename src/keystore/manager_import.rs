//! Bringing a key in from another system with all its versions (`rekey import
//! vault-transit`): each version's material is wrapped under the root key, bound to the key's
//! name and version as any other, and the key is created in one transaction with its audit
//! record. A child module of `manager`.

use super::KeyManager;
use crate::audit::{AuditEntry, AuditOperation, Outcome};
use crate::crypto::KeyMaterial;
use crate::keystore::store::{ImportedVersion, NewKey, VersionState};
use crate::keystore::{KeyError, KeyResult};

/// One version to import: its number, lifecycle state, material and creation time.
pub(crate) struct VersionToImport {
    pub(crate) version: u32,
    pub(crate) state: VersionState,
    pub(crate) material: KeyMaterial,
    pub(crate) created_at: crate::clock::Millis,
}

impl KeyManager {
    /// Creates `key` with `versions` (ascending, exactly one Active). Refused, changing
    /// nothing, when a key of that name exists. Audited as done by `actor`.
    pub(crate) async fn import_key(
        &self,
        key: &NewKey,
        versions: &[VersionToImport],
        actor: &str,
    ) -> KeyResult<()> {
        crate::crypto::validate_key_name(&key.name)
            .map_err(|_| KeyError::invalid_key_name(&key.name))?;
        if self.store.get_key(&key.name).await?.is_some() {
            return Err(KeyError::KeyExists(key.name.clone()));
        }
        let mut wrapped = Vec::with_capacity(versions.len());
        for v in versions {
            let material = self
                .wrap_version(&key.name, v.version, &v.material)
                .await
                .map_err(|e| KeyError::RootKeyUnavailable(e.to_string()))?;
            wrapped.push(ImportedVersion {
                version: v.version,
                state: v.state,
                material,
                created_at: v.created_at,
            });
        }
        let audit = AuditEntry::new(actor, AuditOperation::ImportKey, Outcome::Success)
            .records(u64::try_from(versions.len()).unwrap_or(u64::MAX));
        let created = self
            .store
            .import_key(key, &wrapped, self.clock.now(), &audit)
            .await?;
        if !created {
            return Err(KeyError::KeyExists(key.name.clone()));
        }
        self.reload(&key.name).await?;
        Ok(())
    }
}
