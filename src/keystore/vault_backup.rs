//! Reading a HashiCorp Vault Transit key backup (`GET transit/backup/:name` of a key that is
//! exportable and allows plaintext backup) into the versions `KeyManager::import_key` takes.
//!
//! The backup is base64 of Vault's `KeyData` JSON (Vault's `sdk/helper/keysutil/policy.go`):
//! `{"policy": Policy, "archived_keys": {"keys": [KeyEntry, ...]}}`. `policy.keys` maps the
//! versions from `min_decryption_version` to `latest_version` (as strings) to a `KeyEntry`
//! whose `key` is the raw key (base64, as Go writes a byte slice); `archived_keys.keys[i]` is
//! version `i + min_available_version` (every version, so the older ones are there too);
//! `time` is RFC 3339 and `creation_time` Unix seconds. Only `aes256-gcm96` keys (type 0),
//! neither derived nor convergent, are taken: Vault uses their key as it is, as Rekey does.
//! docs/transit.md, and the vectors in tests/vectors/vault-transit-v1.json, made from that
//! reading by an independent implementation.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::clock::Millis;
use crate::crypto::{KeyMaterial, KEY_LEN};
use crate::keystore::manager::import::VersionToImport;
use crate::keystore::store::VersionState;

/// Vault's `KeyType_AES256_GCM96`, the first of its key types.
const AES256_GCM96: i64 = 0;

#[derive(Deserialize)]
struct KeyData {
    policy: Policy,
    #[serde(default)]
    archived_keys: Option<Archive>,
}

#[derive(Deserialize)]
struct Policy {
    name: String,
    #[serde(default)]
    keys: HashMap<String, KeyEntry>,
    #[serde(default)]
    derived: bool,
    #[serde(default)]
    convergent_encryption: bool,
    #[serde(rename = "type", default)]
    key_type: i64,
    latest_version: u32,
    #[serde(default)]
    min_decryption_version: u32,
    #[serde(default)]
    min_available_version: u32,
}

#[derive(Deserialize)]
struct Archive {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    /// Base64 of the raw key; empty for an archive slot with no key.
    #[serde(default)]
    key: Option<KeyText>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    creation_time: Option<i64>,
}

/// A key's base64 text, wiped on drop.
struct KeyText(Zeroizing<String>);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| KeyText(Zeroizing::new(s)))
    }
}

/// A Vault key read from its backup: its name in Vault and the versions to import.
pub(crate) struct VaultKey {
    pub(crate) vault_name: String,
    pub(crate) versions: Vec<VersionToImport>,
}

/// Why a backup cannot be imported: what is wrong, never a key byte.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    #[error("the backup is not base64 (give the `backup` string of `GET transit/backup/:name`, or that response's JSON)")]
    NotBase64,
    #[error("the backup is not a Vault Transit key backup: {0}")]
    NotKeyData(String),
    #[error("key {name:?} is of Vault type {key_type}; only aes256-gcm96 keys can be imported (Rekey's AES-256-GCM)")]
    UnsupportedType { name: String, key_type: i64 },
    #[error("key {0:?} is derived (its values need a context): Rekey cannot import derived keys")]
    Derived(String),
    #[error("key {0:?} uses convergent encryption: Rekey cannot import it")]
    Convergent(String),
    #[error(
        "version {version} of key {name:?} has a {len}-byte key; aes256-gcm96 keys are 32 bytes"
    )]
    BadKeyLength {
        name: String,
        version: u32,
        len: usize,
    },
    #[error("version {version} of key {name:?} is not valid base64")]
    BadKeyEncoding { name: String, version: u32 },
    #[error("the backup of key {name:?} holds no key for its latest version {latest}")]
    MissingLatest { name: String, latest: u32 },
}

/// The backup text: the `backup` string itself, or the JSON answer that holds it.
pub(crate) fn read_backup(text: &str) -> Result<VaultKey, BackupError> {
    let text = text.trim();
    let backup = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value
            .pointer("/data/backup")
            .and_then(|b| b.as_str())
            .map(str::to_owned)
            .ok_or_else(|| BackupError::NotKeyData("JSON without data.backup".into()))?,
        Err(_) => text.to_owned(),
    };
    let json = Zeroizing::new(
        B64.decode(backup.trim())
            .map_err(|_| BackupError::NotBase64)?,
    );
    let data: KeyData =
        serde_json::from_slice(&json).map_err(|e| BackupError::NotKeyData(redacted(&e)))?;
    versions(data)
}

/// serde's message without the input it quotes (which could be key bytes).
fn redacted(e: &serde_json::Error) -> String {
    format!(
        "{:?} at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

fn versions(data: KeyData) -> Result<VaultKey, BackupError> {
    let policy = data.policy;
    let name = policy.name.clone();
    if policy.key_type != AES256_GCM96 {
        return Err(BackupError::UnsupportedType {
            name,
            key_type: policy.key_type,
        });
    }
    if policy.derived {
        return Err(BackupError::Derived(name));
    }
    if policy.convergent_encryption {
        return Err(BackupError::Convergent(name));
    }
    // The archive holds every version; the policy's own map wins where both have one.
    let mut entries: BTreeMap<u32, KeyEntry> = BTreeMap::new();
    if let Some(archive) = data.archived_keys {
        for (i, entry) in archive.keys.into_iter().enumerate() {
            let version = u32::try_from(i)
                .ok()
                .and_then(|i| i.checked_add(policy.min_available_version));
            if let Some(version) = version.filter(|v| (1..=policy.latest_version).contains(v)) {
                entries.insert(version, entry);
            }
        }
    }
    for (version, entry) in policy.keys {
        if let Some(version) = version.parse::<u32>().ok().filter(|v| *v >= 1) {
            entries.insert(version, entry);
        }
    }
    let min_decryption = policy.min_decryption_version.max(1);
    let mut versions = Vec::new();
    for (version, entry) in entries {
        let Some(KeyText(encoded)) = entry.key.as_ref().filter(|k| !k.0.is_empty()) else {
            continue; // a slot of the archive with no key (version 0, or trimmed)
        };
        let raw = Zeroizing::new(B64.decode(encoded.as_bytes()).map_err(|_| {
            BackupError::BadKeyEncoding {
                name: name.clone(),
                version,
            }
        })?);
        if raw.len() != KEY_LEN {
            return Err(BackupError::BadKeyLength {
                name,
                version,
                len: raw.len(),
            });
        }
        let material = KeyMaterial::from_slice(&raw).map_err(|_| BackupError::BadKeyLength {
            name: name.clone(),
            version,
            len: raw.len(),
        })?;
        let state = if version == policy.latest_version {
            VersionState::Active
        } else if version < min_decryption {
            VersionState::Retired
        } else {
            VersionState::Deprecated
        };
        versions.push(VersionToImport {
            version,
            state,
            material,
            created_at: created_at(&entry),
        });
    }
    if !versions.iter().any(|v| v.state == VersionState::Active) {
        return Err(BackupError::MissingLatest {
            name,
            latest: policy.latest_version,
        });
    }
    Ok(VaultKey {
        vault_name: name,
        versions,
    })
}

/// The version's creation time: `time` (RFC 3339), else `creation_time` (Unix seconds).
fn created_at(entry: &KeyEntry) -> Millis {
    entry
        .time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .or_else(|| entry.creation_time.map(|s| s.saturating_mul(1000)))
        .unwrap_or(0)
}
