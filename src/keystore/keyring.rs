//! The in-memory keyring: every non-retired key version, unwrapped once and ready to use.
//! Reads are lock-free (an `ArcSwap` of an immutable map) because every data-plane request
//! looks a key up; writes replace one key's entry and happen only on rotation, rollback,
//! load-on-miss and the periodic refresh.

use std::{collections::BTreeMap, collections::HashMap, fmt, sync::Arc};

use arc_swap::ArcSwap;

use crate::clock::Millis;
use crate::crypto::{EncryptionKey, SigningKey};
use crate::keystore::error::{KeyError, KeyResult};
use crate::keystore::root::{RootKeyError, RootKeyProvider, WrappedVersion};
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
    /// Shared with the next load of the key while its wrapped bytes stay the same.
    pub(crate) cipher: Arc<VersionCipher>,
    /// The stored wrapped material (public), to tell an unchanged version on a refresh.
    wrapped: Vec<u8>,
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
    /// Loads the key's versions: each non-retired version's material unwrapped by the root
    /// key, except where `previous` (this key as loaded before) already holds the same wrapped
    /// bytes, whose cipher is reused. So a refresh calls the root key only for new or changed
    /// versions, and keeps working with an unreachable token while nothing changed. A version
    /// whose material fails to unwrap, or whose check value differs, means a damaged or
    /// tampered keystore: refuse the key.
    pub(crate) async fn load(
        root: &dyn RootKeyProvider,
        record: KeyRecord,
        rows: Vec<VersionRecord>,
        previous: Option<&LoadedKey>,
    ) -> KeyResult<Self> {
        let primary_created_at = rows
            .iter()
            .find(|r| r.version == record.primary_version)
            .map_or(record.created_at, |r| r.created_at);
        let reusable = |row: &VersionRecord| {
            previous
                .and_then(|p| p.versions.get(&row.version))
                .filter(|v| v.wrapped == row.wrapped_material)
                .filter(|v| !matches!(*v.cipher, VersionCipher::Retired))
                .map(|v| Arc::clone(&v.cipher))
        };
        let to_unwrap: Vec<WrappedVersion> = rows
            .iter()
            .filter(|row| row.state != VersionState::Retired && reusable(row).is_none())
            .map(|row| WrappedVersion {
                key_name: row.key_name.clone(),
                version: row.version,
                wrapped: row.wrapped_material.clone(),
            })
            .collect();
        let mut unwrapped = if to_unwrap.is_empty() {
            Vec::new()
        } else {
            root.unwrap_many(to_unwrap).await
        }
        .into_iter();
        let mut versions = BTreeMap::new();
        for row in rows {
            let cipher = if row.state == VersionState::Retired {
                Arc::new(VersionCipher::Retired)
            } else if let Some(cipher) = reusable(&row) {
                cipher
            } else {
                let material = unwrapped
                    .next()
                    .unwrap_or(Err(RootKeyError::WrappedKeyInvalid))
                    .map_err(|e| unwrap_error(&row, e))?;
                if material.check_value() != row.check_value {
                    return Err(KeyError::Internal(format!(
                        "key {} version {}: material does not match its stored check value",
                        row.key_name, row.version
                    )));
                }
                Arc::new(match record.purpose {
                    Purpose::EncryptDecrypt => {
                        VersionCipher::Encrypt(EncryptionKey::new(&material))
                    }
                    Purpose::SignVerify => VersionCipher::Sign(SigningKey::new(&material)),
                })
            };
            versions.insert(
                row.version,
                Arc::new(LoadedVersion {
                    version: row.version,
                    state: row.state,
                    cipher,
                    wrapped: row.wrapped_material,
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

/// A version that did not unwrap: the root key is unreachable (retry later), or the row does
/// not open with it (a damaged or tampered keystore).
fn unwrap_error(row: &VersionRecord, err: RootKeyError) -> KeyError {
    match err {
        RootKeyError::Unavailable { .. } => KeyError::RootKeyUnavailable(format!(
            "key {} version {}: {err}",
            row.key_name, row.version
        )),
        RootKeyError::WrappedKeyInvalid => KeyError::Internal(format!(
            "key {} version {}: the stored wrapped material does not open with the root key \
             (a damaged or altered keystore row)",
            row.key_name, row.version
        )),
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
