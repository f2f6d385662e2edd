//! The storage boundary of the keystore: the records it keeps and the trait each backend
//! (SQLite, PostgreSQL) implements. Everything here is plain data: key material only ever
//! crosses this boundary wrapped under the root key.

use std::fmt;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::storage_error::StoreResult;

/// What a key is for. A key never changes purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// AES-256-GCM encryption and decryption.
    EncryptDecrypt,
    /// HMAC-SHA256 signing and verification.
    SignVerify,
}

impl Purpose {
    /// The spelling stored in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Purpose::EncryptDecrypt => "encrypt_decrypt",
            Purpose::SignVerify => "sign_verify",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "encrypt_decrypt" => Some(Purpose::EncryptDecrypt),
            "sign_verify" => Some(Purpose::SignVerify),
            _ => None,
        }
    }
}

/// Lifecycle state of one key version. Exactly one version of a key is `Active`: its primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionState {
    /// The primary: used for new encryptions and signatures, and for decryption.
    Active,
    /// No longer used for new operations; still decrypts and verifies.
    Deprecated,
    /// Refused for every operation. Its wrapped material is kept (never destroyed).
    Retired,
}

impl VersionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VersionState::Active => "active",
            VersionState::Deprecated => "deprecated",
            VersionState::Retired => "retired",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(VersionState::Active),
            "deprecated" => Some(VersionState::Deprecated),
            "retired" => Some(VersionState::Retired),
            _ => None,
        }
    }
}

/// Rotation policy of a key, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    pub rotation_interval_secs: i64,
    pub grace_period_secs: i64,
}

impl KeyPolicy {
    /// When a primary version created at `primary_created_at` is due for rotation: the one
    /// place this sum is written.
    pub(crate) fn due_at(self, primary_created_at: Millis) -> Millis {
        primary_created_at + self.rotation_interval_secs * crate::clock::MILLIS_PER_SEC
    }

    /// The latest primary creation time that is due at `now` (the inverse of `due_at`).
    pub(crate) fn due_by(self, now: Millis) -> Millis {
        now - self.rotation_interval_secs * crate::clock::MILLIS_PER_SEC
    }
}

/// One named key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub name: String,
    pub purpose: Purpose,
    pub policy: KeyPolicy,
    pub primary_version: u32,
    pub created_at: Millis,
}

/// One version of a key as stored. `wrapped_material` is the key material encrypted under the
/// root key's wrapping key (never the raw bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub key_name: String,
    pub version: u32,
    pub state: VersionState,
    pub wrapped_material: Vec<u8>,
    /// Key check value: identifies the material without revealing it.
    pub check_value: String,
    pub created_at: Millis,
    pub deprecated_at: Option<Millis>,
    pub retired_at: Option<Millis>,
}

// Wrapped material is not secret, but it is noise in logs: show only its length.
impl fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionRecord")
            .field("key_name", &self.key_name)
            .field("version", &self.version)
            .field("state", &self.state)
            .field("wrapped_material_len", &self.wrapped_material.len())
            .field("check_value", &self.check_value)
            .field("created_at", &self.created_at)
            .field("deprecated_at", &self.deprecated_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// The wrapped material of a version about to be created.
#[derive(Clone)]
pub struct NewVersion {
    pub wrapped_material: Vec<u8>,
    pub check_value: String,
}

impl fmt::Debug for NewVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewVersion")
            .field("wrapped_material_len", &self.wrapped_material.len())
            .field("check_value", &self.check_value)
            .finish()
    }
}

/// A key to create, with its first version.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub purpose: Purpose,
    pub policy: KeyPolicy,
}

/// One version of a key brought in from another system (`rekey import vault-transit`), its
/// material already wrapped under the root key.
#[derive(Debug, Clone)]
pub struct ImportedVersion {
    pub version: u32,
    pub state: VersionState,
    pub material: NewVersion,
    pub created_at: Millis,
}

/// Result of a successful rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub previous_version: u32,
    pub new_version: u32,
}

/// Result of a successful rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolledBack {
    /// The version that is primary again.
    pub primary_version: u32,
    /// The version that was primary and is now Deprecated.
    pub rolled_back_version: u32,
}

/// When a rotation may go ahead. Checked inside the rotation's transaction, so that several
/// replicas deciding at once still rotate a key once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateGuard {
    /// Rotate unconditionally (forced / emergency rotation).
    Always,
    /// Refuse (`RotatedRecently`) if the primary has version > 1 and was created after this
    /// time: a retried or duplicated manual request must not rotate twice.
    NotRotatedSince(Millis),
    /// Refuse (`NotDue`) unless the primary was created at or before this time: the scheduler
    /// passes `now - rotation interval`.
    DueBy(Millis),
}

/// The rotation event recorded in the same transaction as a rotation or rollback. The store
/// fills in the key and the from/to versions.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub id: String,
    /// scheduled, manual, emergency or rollback.
    pub trigger: &'static str,
    pub actor: String,
    pub batch_size: u32,
    pub rate_limit: u32,
    /// Names of the migration targets of the key.
    pub targets: Vec<String>,
}

/// Builds the wrapped material for a new version once the store knows its number (the number
/// is bound into the wrapping, so it must be known first). It may call a device or the
/// network (the root key in an HSM); if it fails, the store writes nothing.
pub type MakeVersion<'a> =
    &'a (dyn Fn(u32) -> BoxFuture<'a, StoreResult<NewVersion>> + Send + Sync);

/// Persistent storage of keys and versions. Implementations must make every mutating method
/// atomic and safe when several server processes share the same database.
#[async_trait]
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// Short name of the backend for logs: "sqlite" or "postgres".
    fn backend(&self) -> &'static str;

    /// Stores `value` as the root-key check value if none is stored yet, and returns the
    /// value that is stored afterwards (the given one, or the one found).
    async fn root_check_value(&self, value: &str) -> StoreResult<String>;

    /// Creates the key with `first` as its version 1 (Active, primary) in one transaction.
    /// Returns false, changing nothing, if a key with that name exists already (also when
    /// another process created it concurrently).
    async fn create_key(&self, key: &NewKey, first: NewVersion, now: Millis) -> StoreResult<bool>;

    /// Creates key `key` with `versions` (numbers ascending, exactly one Active: the primary;
    /// Deprecated and Retired ones stamped `now`) and appends `audit` naming the key and its
    /// primary, in one transaction. Returns false, changing nothing, if a key with that name
    /// exists already (also when another process created it concurrently).
    async fn import_key(
        &self,
        key: &NewKey,
        versions: &[ImportedVersion],
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;

    /// Replaces the rotation policy of an existing key (config is the source of truth).
    async fn update_policy(&self, name: &str, policy: KeyPolicy) -> StoreResult<()>;

    /// All keys, ordered by name.
    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>>;

    async fn get_key(&self, name: &str) -> StoreResult<Option<KeyRecord>>;

    /// All versions of a key, ordered by version ascending. Empty if the key does not exist.
    async fn list_versions(&self, name: &str) -> StoreResult<Vec<VersionRecord>>;

    async fn get_version(&self, name: &str, version: u32) -> StoreResult<Option<VersionRecord>>;

    /// Atomically creates version `max(version) + 1` as the Active primary (built by `make`)
    /// and makes the previous primary Deprecated (`deprecated_at = now`), if `guard` allows.
    ///
    /// With `event`, the rotation event (status pending, from = previous primary, to = new
    /// version) is inserted in the same transaction. If the key has an unfinished event, a
    /// rotation guarded by `Always` marks it failed ("superseded"); any other guard refuses
    /// with `MigrationInProgress`.
    /// Concurrent calls on one key serialize: they yield distinct consecutive versions (or one
    /// rotation and refusals), never duplicate versions or two primaries.
    ///
    /// `audit` is appended (recorded at `now`) in the same transaction, naming the key, the new
    /// version and the event: if it cannot be written (`AuditWrite`), nothing changes.
    async fn rotate(
        &self,
        name: &str,
        now: Millis,
        guard: RotateGuard,
        make: MakeVersion<'_>,
        event: Option<&EventDraft>,
        audit: &AuditEntry,
    ) -> StoreResult<Rotated>;

    /// Atomically makes the highest version below the primary Active and primary again
    /// (`deprecated_at = NULL`), and the current primary Deprecated (`deprecated_at = now`).
    /// With `event`, records it as in `rotate` (from = the rolled-back version, to = the
    /// restored one); an unfinished event of the key is marked failed ("superseded").
    /// Fails with `NoPreviousVersion` or `PreviousVersionRetired`; never deletes anything.
    /// `audit` is written with the change as in `rotate` (naming the restored version).
    async fn rollback(
        &self,
        name: &str,
        now: Millis,
        event: Option<&EventDraft>,
        audit: &AuditEntry,
    ) -> StoreResult<RolledBack>;

    /// Replaces the wrapped material of one version (root-key rotation re-wraps every version
    /// under the new root key).
    async fn replace_wrapped_material(
        &self,
        name: &str,
        version: u32,
        wrapped_material: &[u8],
    ) -> StoreResult<()>;

    /// Sets the root-key check value to `new` if it is `old`; returns whether it changed.
    async fn replace_root_check_value(&self, old: &str, new: &str) -> StoreResult<bool>;

    /// Marks a Deprecated version Retired (`retired_at = now`). Refuses (returns `Ok(false)`)
    /// if the version is the primary; `VersionNotFound` if it does not exist. A version it
    /// retires is retired with `audit` (naming the key and version) in the same transaction;
    /// one retired already is left as it is, with no audit row.
    async fn retire_version(
        &self,
        name: &str,
        version: u32,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
}
