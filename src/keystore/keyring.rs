//! The in-memory keyring: every non-retired key version, unwrapped once and ready to use.
//! Reads are lock-free (an `ArcSwap` of an immutable map) because every data-plane request
//! looks a key up; writes replace one key's entry and happen only on rotation, rollback,
//! load-on-miss and the periodic refresh.

use std::{collections::BTreeMap, collections::HashMap, fmt, sync::Arc};

use arc_swap::ArcSwap;

use crate::clock::Millis;
use crate::crypto::{EncryptionKey, RootKey, SigningKey};
use crate::keystore::error::{KeyError, KeyResult};
use crate::keystore::store::{KeyRecord, Purpose, VersionRecord, VersionState};

/// The usable form of one version's material.
// Boxing would add a pointer chase on the hot path; a few hundred bytes per version is nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum VersionCipher {
    Encrypt(EncryptionKey),
    Sign(SigningKey),
    /// Retired versions are never unwrapped.
    Retired,
}

pub(crate) struct LoadedVersion {
    pub(crate) version: u32,
    pub(crate) state: VersionState,
    pub(crate) cipher: VersionCipher,
}

impl fmt::Debug for LoadedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedVersion")
            .field("version", &self.version)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct LoadedKey {
    pub(crate) record: KeyRecord,
    pub(crate) versions: BTreeMap<u32, Arc<LoadedVersion>>,
    /// When the primary version was created (its age drives the rotation alerts).
    pub(crate) primary_created_at: Millis,
}

impl LoadedKey {
    /// Unwraps the key's versions with the root key. A version whose material fails to unwrap,
    /// or whose check value differs, means a damaged or tampered keystore: refuse the key.
    pub(crate) fn unwrap(
        root: &RootKey,
        record: KeyRecord,
        rows: Vec<VersionRecord>,
    ) -> KeyResult<Self> {
        let mut versions = BTreeMap::new();
        let primary_created_at = rows
            .iter()
            .find(|r| r.version == record.primary_version)
            .map_or(record.created_at, |r| r.created_at);
        for row in rows {
            let cipher = if row.state == VersionState::Retired {
                VersionCipher::Retired
            } else {
                let material = root
                    .unwrap(&row.key_name, row.version, &row.wrapped_material)
                    .map_err(|e| {
                        KeyError::Internal(format!(
                            "key {} version {}: {e}",
                            row.key_name, row.version
                        ))
                    })?;
                if material.check_value() != row.check_value {
                    return Err(KeyError::Internal(format!(
                        "key {} version {}: material does not match its stored check value",
                        row.key_name, row.version
                    )));
                }
                match record.purpose {
                    Purpose::EncryptDecrypt => {
                        VersionCipher::Encrypt(EncryptionKey::new(&material))
                    }
                    Purpose::SignVerify => VersionCipher::Sign(SigningKey::new(&material)),
                }
            };
            versions.insert(
                row.version,
                Arc::new(LoadedVersion {
                    version: row.version,
                    state: row.state,
                    cipher,
                }),
            );
        }
        Ok(Self {
            record,
            versions,
            primary_created_at,
        })
    }

    /// The primary (Active) version.
    pub(crate) fn primary(&self) -> KeyResult<&Arc<LoadedVersion>> {
        self.versions
            .get(&self.record.primary_version)
            .filter(|v| v.state == VersionState::Active)
            .ok_or_else(|| {
                KeyError::Internal(format!(
                    "key {} has no usable primary version {}",
                    self.record.name, self.record.primary_version
                ))
            })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Keyring {
    keys: ArcSwap<HashMap<String, Arc<LoadedKey>>>,
}

impl Keyring {
    pub(crate) fn get(&self, name: &str) -> Option<Arc<LoadedKey>> {
        self.keys.load().get(name).cloned()
    }

    pub(crate) fn insert(&self, key: LoadedKey) -> Arc<LoadedKey> {
        let key = Arc::new(key);
        self.keys.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(key.record.name.clone(), Arc::clone(&key));
            next
        });
        key
    }

    /// Every loaded key, in no particular order.
    pub(crate) fn all(&self) -> Vec<Arc<LoadedKey>> {
        self.keys.load().values().cloned().collect()
    }
}
