//! `KeyManager`: every key operation the API offers, on top of the storage trait, the root key
//! and the in-memory keyring. It knows nothing of gRPC or SQL.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures::future::BoxFuture;
use tracing::{info, warn};
use zeroize::Zeroizing;

#[path = "envelope_values.rs"]
mod envelope_values;
#[path = "manager_import.rs"]
pub(crate) mod import;
#[path = "manager_loading.rs"]
mod loading;
#[path = "vault_values.rs"]
pub(crate) mod vault_values;

use envelope_values::embeds_data_key;
use loading::wrong_root_key;

use crate::audit::{AuditEntry, AuditOperation, Outcome};
use crate::clock::{Clock, MILLIS_PER_SEC};
use crate::crypto::{self, Envelope, KeyMaterial, Kind};
use crate::keystore::error::{KeyError, KeyResult};
use crate::keystore::keyring::{Keyring, LoadedKey, LoadedVersion};
use crate::keystore::root::RootKeyProvider;
use crate::keystore::store::{
    EventDraft, KeyRecord, KeyStore, NewVersion, Purpose, RolledBack, RotateGuard, Rotated,
    VersionRecord, VersionState,
};
use crate::keystore::version_use::{encryption_key, expect_kind, signing_key};
use crate::storage_error::{StoreError, StoreResult};

/// Behaviour switches of the key manager, taken from the server config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_plaintext_bytes: usize,
    pub(crate) min_rotation_interval_secs: u64,
    pub(crate) rotation_enabled: bool,
}

/// Plaintext recovered by Decrypt; wiped on drop.
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_name: String,
    pub key_version: u32,
}

pub(crate) struct Verified {
    pub(crate) valid: bool,
    pub(crate) key_name: String,
    pub(crate) key_version: u32,
}

pub(crate) struct DataKey {
    pub(crate) plaintext_key: KeyMaterial,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) key_version: u32,
}

/// A key as stored, for status reports.
#[derive(Debug, Clone)]
pub(crate) struct KeySnapshot {
    pub(crate) record: KeyRecord,
    pub(crate) versions: Vec<VersionRecord>,
}

impl KeySnapshot {
    /// The lowest version that still decrypts (Vault's `min_decryption_version`): one above
    /// the highest retired version, 1 when none is.
    pub(crate) fn min_usable_version(&self) -> u32 {
        self.versions
            .iter()
            .filter(|v| v.state == VersionState::Retired)
            .map(|v| v.version + 1)
            .max()
            .unwrap_or(1)
    }

    /// When the primary version was created (by the last rotation, or with the key).
    pub(crate) fn primary_created_at(&self) -> crate::clock::Millis {
        self.versions
            .iter()
            .find(|v| v.version == self.record.primary_version)
            .map_or(self.record.created_at, |v| v.created_at)
    }

    /// When the primary version is due for rotation under the key's policy.
    pub(crate) fn due_at(&self) -> crate::clock::Millis {
        self.record.policy.due_at(self.primary_created_at())
    }
}

/// A loaded key's primary version age and policy, read from memory (for metrics).
#[derive(Debug, Clone)]
pub(crate) struct PrimaryAge {
    pub(crate) key: String,
    pub(crate) age_secs: f64,
    pub(crate) policy: crate::keystore::store::KeyPolicy,
}

/// Performs every key operation, over the keyring loaded from the key store.
///
/// Public only as [`RunningServer::manager`](crate::server::RunningServer::manager) hands it
/// out, to the integration tests and the benchmark harness; of its methods, only those they
/// call are public.
#[derive(Debug)]
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    root: Arc<dyn RootKeyProvider>,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    settings: Settings,
    /// The last root-key check's outcome (for the `rekey_root_key_available` gauge).
    root_available: AtomicBool,
}

impl KeyManager {
    /// Opens the keystore with `root`, refusing a root key other than the one the keystore was
    /// created with, and loads every key.
    pub(crate) async fn open(
        store: Arc<dyn KeyStore>,
        root: Arc<dyn RootKeyProvider>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> KeyResult<Self> {
        let stored = store.root_check_value(root.check_value()).await?;
        if stored != root.check_value() {
            return Err(KeyError::Internal(wrong_root_key(&stored, root.as_ref())));
        }
        let manager = Self {
            store,
            root,
            clock,
            keyring: Keyring::default(),
            settings,
            root_available: AtomicBool::new(true),
        };
        manager.refresh_all().await?;
        Ok(manager)
    }

    /// The key store the keyring is loaded from.
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    pub(crate) fn now(&self) -> crate::clock::Millis {
        self.clock.now()
    }

    /// The primary version age and policy of every loaded key, without touching the database:
    /// as fresh as the last refresh (`key_refresh_interval_secs`) or local rotation.
    pub(crate) fn primary_ages(&self) -> Vec<PrimaryAge> {
        let now = self.clock.now();
        self.keyring
            .all()
            .iter()
            .map(|k| PrimaryAge {
                key: k.record.name.clone(),
                age_secs: (now - k.primary_created_at).max(0) as f64 / 1000.0,
                policy: k.record.policy,
            })
            .collect()
    }

    /// Creates a key with `material` (or fresh random material) as version 1 unless it exists.
    /// Returns whether it was created here.
    pub(crate) async fn create_key_if_absent(
        &self,
        key: &crate::keystore::store::NewKey,
        material: Option<KeyMaterial>,
    ) -> KeyResult<bool> {
        let material = material.unwrap_or_else(KeyMaterial::generate);
        let first = self
            .wrap_version(&key.name, 1, &material)
            .await
            .map_err(KeyError::from)?;
        let created = self.store.create_key(key, first, self.clock.now()).await?;
        self.reload(&key.name).await?;
        Ok(created)
    }

    /// The key from the keyring, loading it from the database on a miss (a key created by
    /// another replica since the last refresh).
    async fn key(&self, name: &str) -> KeyResult<Arc<LoadedKey>> {
        if name.is_empty() {
            return Err(KeyError::EmptyKeyName);
        }
        crypto::validate_key_name(name).map_err(|_| KeyError::invalid_key_name(name))?;
        if let Some(key) = self.keyring.get(name) {
            return Ok(key);
        }
        self.reload(name)
            .await?
            .ok_or_else(|| KeyError::KeyNotFound(name.to_owned()))
    }

    /// A version usable for decryption or verification: loaded on a miss (a rotation made by
    /// another replica), refused when Retired.
    async fn usable_version(
        &self,
        name: &str,
        version: u32,
    ) -> KeyResult<(Arc<LoadedKey>, Arc<LoadedVersion>)> {
        let mut key = self.key(name).await?;
        if !key.versions.contains_key(&version) {
            key = self
                .reload(name)
                .await?
                .ok_or_else(|| KeyError::KeyNotFound(name.to_owned()))?;
        }
        let loaded =
            key.versions
                .get(&version)
                .cloned()
                .ok_or_else(|| KeyError::VersionNotFound {
                    key: name.to_owned(),
                    version,
                })?;
        if loaded.state == VersionState::Retired {
            return Err(KeyError::VersionRetired {
                key: name.to_owned(),
                version,
            });
        }
        Ok((key, loaded))
    }

    fn check_size(&self, what: &'static str, len: usize) -> KeyResult<()> {
        if len > self.settings.max_plaintext_bytes {
            return Err(KeyError::TooLarge {
                what,
                len,
                limit: self.settings.max_plaintext_bytes,
            });
        }
        Ok(())
    }

    /// Encrypts under the primary version of key `name`; returns the ciphertext and that
    /// version.
    pub async fn encrypt(
        &self,
        name: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> KeyResult<(Vec<u8>, u32)> {
        self.check_size("plaintext", plaintext.len())?;
        let key = self.key(name).await?;
        let primary = key.primary()?;
        let cipher = encryption_key(&key, primary, "encrypt")?;
        let ciphertext = cipher.encrypt(name, primary.version, plaintext, aad)?;
        Ok((ciphertext, primary.version))
    }

    /// Decrypts with whichever usable version of its key `ciphertext` names; an envelope or
    /// stream ciphertext (kind 0x03, 0x04) is opened with the data key it embeds.
    pub async fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> KeyResult<Decrypted> {
        let envelope = Envelope::parse(ciphertext).map_err(KeyError::Malformed)?;
        if matches!(
            envelope.kind,
            Kind::EnvelopeCiphertext | Kind::StreamCiphertext
        ) {
            return self.decrypt_envelope_value(ciphertext, aad).await;
        }
        expect_kind(&envelope, Kind::Ciphertext)?;
        let (key, version) = self
            .usable_version(envelope.key_name, envelope.key_version)
            .await?;
        let cipher = encryption_key(&key, &version, "decrypt")?;
        let plaintext = cipher.decrypt(&envelope, aad)?;
        Ok(Decrypted {
            plaintext,
            key_name: envelope.key_name.to_owned(),
            key_version: envelope.key_version,
        })
    }

    pub(crate) async fn generate_data_key(&self, name: &str, aad: &[u8]) -> KeyResult<DataKey> {
        let plaintext_key = KeyMaterial::generate();
        let (wrapped_key, key_version) = self.encrypt(name, plaintext_key.expose(), aad).await?;
        Ok(DataKey {
            plaintext_key,
            wrapped_key,
            key_version,
        })
    }

    /// Re-encrypts under the primary version. An envelope ciphertext keeps its payload: only
    /// its embedded data key is rewrapped, and `aad` plays no part.
    pub(crate) async fn rewrap(&self, ciphertext: &[u8], aad: &[u8]) -> KeyResult<(Vec<u8>, u32)> {
        if embeds_data_key(ciphertext) {
            return self.rewrap_envelope_value(ciphertext, None).await;
        }
        let decrypted = self.decrypt(ciphertext, aad).await?;
        self.encrypt(&decrypted.key_name, &decrypted.plaintext, aad)
            .await
    }

    pub(crate) async fn sign(&self, name: &str, message: &[u8]) -> KeyResult<(Vec<u8>, u32)> {
        self.check_size("message", message.len())?;
        let key = self.key(name).await?;
        let primary = key.primary()?;
        let signer = signing_key(&key, primary, "sign")?;
        Ok((
            signer.sign(name, primary.version, message)?,
            primary.version,
        ))
    }

    pub(crate) async fn verify(&self, message: &[u8], signature: &[u8]) -> KeyResult<Verified> {
        let envelope = Envelope::parse(signature).map_err(KeyError::Malformed)?;
        expect_kind(&envelope, Kind::Signature)?;
        let (key, version) = self
            .usable_version(envelope.key_name, envelope.key_version)
            .await?;
        let signer = signing_key(&key, &version, "verify")?;
        Ok(Verified {
            valid: signer.verify(&envelope, message)?,
            key_name: envelope.key_name.to_owned(),
            key_version: envelope.key_version,
        })
    }

    /// The guard of a rotation requested by a person: with `force` always, otherwise refused
    /// when the key was rotated less than the minimum rotation interval ago.
    pub(crate) fn manual_guard(&self, force: bool) -> RotateGuard {
        if force {
            return RotateGuard::Always;
        }
        let min_ms = i64::try_from(self.settings.min_rotation_interval_secs)
            .unwrap_or(i64::MAX / MILLIS_PER_SEC)
            .saturating_mul(MILLIS_PER_SEC);
        RotateGuard::NotRotatedSince(self.clock.now().saturating_sub(min_ms))
    }

    /// Creates a new primary version if `guard` allows, recording `event` and `audit` (which
    /// the store completes with the key, new version and event) in the same transaction.
    pub(crate) async fn rotate(
        &self,
        name: &str,
        guard: RotateGuard,
        event: Option<&EventDraft>,
        audit: &AuditEntry,
    ) -> KeyResult<Rotated> {
        if !self.settings.rotation_enabled {
            return Err(KeyError::RotationDisabled);
        }
        self.key(name).await?;
        let now = self.clock.now();
        let make = |version: u32| -> BoxFuture<'_, StoreResult<NewVersion>> {
            Box::pin(async move {
                self.wrap_version(name, version, &KeyMaterial::generate())
                    .await
                    .map_err(|e| StoreError::RootKeyUnavailable(e.to_string()))
            })
        };
        let rotated = self
            .store
            .rotate(name, now, guard, &make, event, audit)
            .await
            .map_err(|e| KeyError::from_store(e, now, self.settings.min_rotation_interval_secs))?;
        self.reload(name).await?;
        info!(
            key = name,
            previous_version = rotated.previous_version,
            new_version = rotated.new_version,
            ?guard,
            "key rotated"
        );
        Ok(rotated)
    }

    /// Makes the previous version primary again; the current primary becomes Deprecated.
    /// `event` and `audit` are recorded in the same transaction, as in `rotate`.
    pub(crate) async fn rollback(
        &self,
        name: &str,
        event: Option<&EventDraft>,
        audit: &AuditEntry,
    ) -> KeyResult<RolledBack> {
        if !self.settings.rotation_enabled {
            return Err(KeyError::RotationDisabled);
        }
        self.key(name).await?;
        let now = self.clock.now();
        let rolled = self.store.rollback(name, now, event, audit).await?;
        self.reload(name).await?;
        warn!(
            key = name,
            primary_version = rolled.primary_version,
            rolled_back_version = rolled.rolled_back_version,
            "key rolled back"
        );
        Ok(rolled)
    }

    /// Reloads one key from the database into the keyring (after a change made outside this
    /// manager, such as an event rollback).
    pub(crate) async fn refresh_key(&self, name: &str) -> KeyResult<()> {
        self.reload(name).await?;
        Ok(())
    }

    /// Decrypts `ciphertext` (any usable version of its key) and encrypts the plaintext again
    /// under `version` of the same key, keeping `aad`. The plaintext never leaves this call.
    /// An envelope ciphertext has only its embedded data key rewrapped (payload unchanged).
    pub async fn reencrypt_to(
        &self,
        ciphertext: &[u8],
        aad: &[u8],
        version: u32,
    ) -> KeyResult<Vec<u8>> {
        if embeds_data_key(ciphertext) {
            return Ok(self
                .rewrap_envelope_value(ciphertext, Some(version))
                .await?
                .0);
        }
        let decrypted = self.decrypt(ciphertext, aad).await?;
        let (key, target) = self.usable_version(&decrypted.key_name, version).await?;
        let cipher = encryption_key(&key, &target, "encrypt")?;
        Ok(cipher.encrypt(&decrypted.key_name, version, &decrypted.plaintext, aad)?)
    }

    pub(crate) fn rotation_enabled(&self) -> bool {
        self.settings.rotation_enabled
    }

    /// Retires a Deprecated version: every later use of it is refused. Its wrapped material is
    /// kept. Returns false (changing nothing) if the version is the primary. The retirement
    /// is audited as done by `actor`, in its own transaction.
    pub async fn retire_version(&self, name: &str, version: u32, actor: &str) -> KeyResult<bool> {
        self.key(name).await?;
        let audit =
            AuditEntry::new(actor, AuditOperation::RetireVersion, Outcome::Success).records(0);
        let retired = self
            .store
            .retire_version(name, version, self.clock.now(), &audit)
            .await?;
        self.reload(name).await?;
        if retired {
            warn!(key = name, version, "key version retired");
        }
        Ok(retired)
    }

    /// The stored state of one key, or of every key when `name` is None.
    pub(crate) async fn snapshots(&self, name: Option<&str>) -> KeyResult<Vec<KeySnapshot>> {
        let records = match name {
            Some(name) => {
                self.key(name).await?;
                vec![self
                    .store
                    .get_key(name)
                    .await?
                    .ok_or_else(|| KeyError::KeyNotFound(name.to_owned()))?]
            }
            None => self.store.list_keys().await?,
        };
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let versions = self.store.list_versions(&record.name).await?;
            out.push(KeySnapshot { record, versions });
        }
        Ok(out)
    }
}

/// The algorithm name shown in status for a purpose.
pub(crate) fn algorithm(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::EncryptDecrypt => "AES-256-GCM",
        Purpose::SignVerify => "HMAC-SHA256",
    }
}
