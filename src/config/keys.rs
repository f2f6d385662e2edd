//! `[keystore]` (root key, limits, refresh) and `[[keys]]` (the managed keys and their
//! policies).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::root_key::{Pkcs11Config, RootKeyProviderName};
use super::ConfigError;
use crate::clock::SECS_PER_DAY;
use crate::keystore::root::RootKeySource;
use crate::keystore::store::{KeyPolicy, Purpose};

/// `[keystore]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeystoreConfig {
    /// What holds the root key: `local` (`master_key`, `master_key_file` or the development
    /// key) or `pkcs11` (`[keystore.pkcs11]`).
    pub root_key_provider: RootKeyProviderName,
    /// The PKCS#11 token and key (`root_key_provider = "pkcs11"`, and the target of
    /// `rekey rotate-root-key --to pkcs11`).
    pub pkcs11: Pkcs11Config,
    /// Root key as base64 of 32 bytes. Prefer the environment (`REKEY_MASTER_KEY`) or a file.
    pub master_key: Option<SecretString>,
    /// File holding the root key as base64 of 32 bytes.
    pub master_key_file: Option<PathBuf>,
    /// Largest plaintext or message accepted by Encrypt and Sign.
    pub max_plaintext_bytes: usize,
    /// Most items one batch rpc (EncryptBatch, DecryptBatch, RewrapBatch) may carry.
    pub max_batch_items: usize,
    /// Most bytes one batch rpc may carry: the items' plaintexts (EncryptBatch) or ciphertexts
    /// (DecryptBatch, RewrapBatch) plus their associated data.
    pub max_batch_bytes: usize,
    /// How often each replica reloads key versions from the database, so that a rotation made
    /// on another replica is used for new encryptions within this bound.
    pub refresh_interval_secs: u64,
}

impl Default for KeystoreConfig {
    fn default() -> Self {
        Self {
            root_key_provider: RootKeyProviderName::Local,
            pkcs11: Pkcs11Config::default(),
            master_key: None,
            master_key_file: None,
            max_plaintext_bytes: 1024 * 1024,
            max_batch_items: 10_000,
            max_batch_bytes: 16 * 1024 * 1024,
            refresh_interval_secs: 5,
        }
    }
}

impl KeystoreConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_plaintext_bytes == 0 {
            return Err(ConfigError::Invalid(
                "keystore.max_plaintext_bytes must be at least 1".into(),
            ));
        }
        if self.max_batch_items == 0 || self.max_batch_bytes == 0 {
            return Err(ConfigError::Invalid(
                "keystore.max_batch_items and keystore.max_batch_bytes must be at least 1".into(),
            ));
        }
        if self.refresh_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "keystore.refresh_interval_secs must be at least 1".into(),
            ));
        }
        self.validate_root_key()
    }

    /// Where the root key comes from, as the keystore reads it.
    pub(crate) fn root_key_source(&self) -> RootKeySource {
        RootKeySource {
            master_key: self.master_key.clone(),
            master_key_file: self.master_key_file.clone(),
        }
    }
}

/// A key declared in config (`[[keys]]`). Declaring one of the built-in names replaces its
/// policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    #[serde(default = "default_purpose")]
    pub purpose: PurposeConfig,
    pub rotation_interval_days: u32,
    pub grace_period_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeConfig {
    EncryptDecrypt,
    SignVerify,
}

fn default_purpose() -> PurposeConfig {
    PurposeConfig::EncryptDecrypt
}

impl KeyConfig {
    fn builtin(name: &str, purpose: PurposeConfig, interval: u32, grace: u32) -> Self {
        Self {
            name: name.to_owned(),
            purpose,
            rotation_interval_days: interval,
            grace_period_days: grace,
        }
    }

    pub(crate) fn purpose(&self) -> Purpose {
        match self.purpose {
            PurposeConfig::EncryptDecrypt => Purpose::EncryptDecrypt,
            PurposeConfig::SignVerify => Purpose::SignVerify,
        }
    }

    pub(crate) fn policy(&self) -> KeyPolicy {
        KeyPolicy {
            rotation_interval_secs: i64::from(self.rotation_interval_days) * SECS_PER_DAY,
            grace_period_secs: i64::from(self.grace_period_days) * SECS_PER_DAY,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        crate::crypto::validate_key_name(&self.name).map_err(|e| {
            ConfigError::Invalid(format!("key name {:?} in [[keys]]: {e}", self.name))
        })?;
        if self.rotation_interval_days == 0 {
            return Err(ConfigError::Invalid(format!(
                "key {}: rotation_interval_days must be at least 1",
                self.name
            )));
        }
        Ok(())
    }
}

/// The runbook's five key types and their schedules (interval / grace period, in days).
pub(crate) fn builtin_keys() -> Vec<KeyConfig> {
    use PurposeConfig::*;
    vec![
        KeyConfig::builtin("TOKEN_ENCRYPTION", EncryptDecrypt, 90, 30),
        KeyConfig::builtin("DATABASE_ENCRYPTION", EncryptDecrypt, 180, 90),
        KeyConfig::builtin("FILE_ENCRYPTION", EncryptDecrypt, 365, 180),
        KeyConfig::builtin("SESSION_ENCRYPTION", EncryptDecrypt, 30, 7),
        KeyConfig::builtin("API_SIGNATURE", SignVerify, 90, 30),
    ]
}

/// The keys a server manages: the built-in five, with `declared` entries replacing a
/// built-in of the same name or adding new keys.
pub(super) fn managed_keys(declared: &[KeyConfig]) -> Vec<KeyConfig> {
    let mut keys = builtin_keys();
    for key in declared {
        match keys.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key.clone(),
            None => keys.push(key.clone()),
        }
    }
    keys
}
