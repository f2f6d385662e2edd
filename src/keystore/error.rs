//! Errors of key operations, phrased for the person who reads them in a gRPC status. The
//! mapping to status codes lives in `api::status`, with no catch-all arm.

use crate::clock::Millis;
use crate::crypto::{CryptoError, FormatError, Kind, VaultFormError};
use crate::keystore::store::Purpose;
use crate::storage_error::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `name` is the rejected name, shortened (see [`KeyError::invalid_key_name`]).
    #[error("invalid key name {name:?}: it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, '_', '.' or '-'")]
    InvalidKeyName { name: String },
    #[error("key name is empty: name one of the keys listed by GetStatus")]
    EmptyKeyName,
    #[error("key {0:?} does not exist; GetStatus lists the keys this server manages")]
    KeyNotFound(String),
    #[error("a key named {0:?} exists already; import under another name")]
    KeyExists(String),
    #[error("version {version} of key {key:?} does not exist on this server")]
    VersionNotFound { key: String, version: u32 },
    #[error("version {version} of key {key:?} is retired and can no longer be used; re-encrypt the data from a backup or restore the version")]
    VersionRetired { key: String, version: u32 },
    #[error("key {key:?} is a {} key and cannot be used to {operation}", purpose_words(*.purpose))]
    WrongPurpose {
        key: String,
        purpose: Purpose,
        operation: &'static str,
    },
    #[error("{0}")]
    Malformed(FormatError),
    /// A value in Vault Transit's text form whose prefix or base64 is malformed.
    #[error("{0}")]
    VaultForm(VaultFormError),
    /// A Rekey value in Vault's form sent for another key than the one it is of.
    #[error(
        "the value is of key {found:?}, not of key {named:?}: send it to the key it was made with"
    )]
    TransitKeyMismatch { named: String, found: String },
    /// A value Vault itself sealed, sent without the name of its key.
    #[error("the value is in Vault's form and does not name its key (Vault made it): give the key's name (key_name)")]
    TransitKeyUnnamed,
    /// A Rekey value in Vault's form whose `vault:v<N>:` prefix was changed.
    #[error("the value's prefix says version {prefix} but the value is of version {found}: the prefix was altered")]
    TransitVersionMismatch { prefix: u32, found: u32 },
    #[error("ciphertext failed authentication: it was modified, or the associated data differs from the one used to encrypt it")]
    AuthenticationFailed,
    #[error("{}", CryptoError::StreamAuthenticationFailed)]
    StreamAuthenticationFailed,
    #[error("expected a {}, got a {}", kind_words(*.expected), kind_words(*.found))]
    WrongKind { expected: Kind, found: Kind },
    #[error("{what} is {len} bytes, larger than this server's limit of {limit} bytes (max_plaintext_bytes)")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("key rotation is disabled on this server (KEY_ROTATION_ENABLED=false)")]
    RotationDisabled,
    #[error("key {key:?} was rotated to version {version} {ago_secs} s ago, less than the minimum rotation interval ({min_secs} s); pass force=true to rotate again now")]
    RotatedRecently {
        key: String,
        version: u32,
        ago_secs: i64,
        min_secs: u64,
    },
    #[error("key {key:?} is not due for rotation: its primary version {version} is younger than the rotation interval; pass force=true to rotate anyway")]
    NotDue { key: String, version: u32 },
    #[error("key {key:?} has a migration in progress (event {event_id}); wait for it, retry or roll it back, or pass force=true to supersede it")]
    MigrationInProgress { key: String, event_id: String },
    #[error("key {key:?} has only version {primary}: there is no earlier version to roll back to")]
    NoPreviousVersion { key: String, primary: u32 },
    #[error("cannot roll back key {key:?}: the previous version {version} is retired")]
    PreviousVersionRetired { key: String, version: u32 },
    /// The root key cannot be used right now (a token removed, an HSM unreachable): what
    /// needs a new wrap or an unwrap fails, nothing is written. The message names the
    /// provider and its error (never key material).
    #[error("{0}; retry once it is back")]
    RootKeyUnavailable(String),
    /// The keystore database cannot be reached right now; the detail is logged.
    #[error("the keystore database is unavailable; retry later")]
    Unavailable(String),
    /// The audit trail could not record the operation, so it was not performed; the detail
    /// is logged.
    #[error("the audit trail could not record this operation, so nothing was changed; retry later (the cause is in the server log)")]
    AuditUnavailable(String),
    /// A bug or damaged keystore; the detail is logged, never returned.
    #[error("internal error; see the server log")]
    Internal(String),
}

impl KeyError {
    /// The longest part of a rejected key name that a message quotes: enough to recognise
    /// it, not enough to flood a log with whatever a caller sent.
    const QUOTED_NAME_CHARS: usize = 80;

    /// A key name that breaks the naming rule, quoted in the message (shortened with "…").
    pub fn invalid_key_name(name: &str) -> Self {
        KeyError::InvalidKeyName {
            name: crate::excerpt::excerpt(name, Self::QUOTED_NAME_CHARS),
        }
    }
}

pub type KeyResult<T> = Result<T, KeyError>;

fn purpose_words(p: Purpose) -> &'static str {
    match p {
        Purpose::EncryptDecrypt => "encryption (ENCRYPT_DECRYPT)",
        Purpose::SignVerify => "signing (SIGN_VERIFY)",
    }
}

fn kind_words(k: Kind) -> &'static str {
    match k {
        Kind::Ciphertext => "ciphertext",
        Kind::Signature => "signature",
        Kind::EnvelopeCiphertext => "envelope ciphertext",
        Kind::StreamCiphertext => "stream ciphertext",
    }
}

impl KeyError {
    /// Converts a store error, keeping client-relevant cases and hiding database detail.
    pub(crate) fn from_store(err: StoreError, now: Millis, min_secs: u64) -> Self {
        match err {
            StoreError::KeyNotFound(key) => KeyError::KeyNotFound(key),
            StoreError::VersionNotFound { key, version } => {
                KeyError::VersionNotFound { key, version }
            }
            StoreError::RotatedRecently {
                key,
                version,
                rotated_at,
            } => KeyError::RotatedRecently {
                key,
                version,
                ago_secs: (now - rotated_at).max(0) / 1000,
                min_secs,
            },
            StoreError::NotDue { key, version, .. } => KeyError::NotDue { key, version },
            StoreError::MigrationInProgress { key, event_id } => {
                KeyError::MigrationInProgress { key, event_id }
            }
            StoreError::NoPreviousVersion { key, primary } => {
                KeyError::NoPreviousVersion { key, primary }
            }
            StoreError::PreviousVersionRetired { key, version } => {
                KeyError::PreviousVersionRetired { key, version }
            }
            StoreError::Database(e) if is_unavailable(&e) => KeyError::Unavailable(e.to_string()),
            StoreError::AuditWrite(e) => KeyError::AuditUnavailable(e.to_string()),
            StoreError::Unreachable(e) => KeyError::Unavailable(e.to_string()),
            StoreError::RootKeyUnavailable(detail) => KeyError::RootKeyUnavailable(detail),
            other @ (StoreError::Database(_)
            | StoreError::Corrupt(_)
            | StoreError::Migration(_)) => KeyError::Internal(other.to_string()),
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

impl From<crate::keystore::root::RootKeyError> for KeyError {
    fn from(err: crate::keystore::root::RootKeyError) -> Self {
        use crate::keystore::root::RootKeyError;
        match err {
            RootKeyError::Unavailable { .. } => KeyError::RootKeyUnavailable(err.to_string()),
            RootKeyError::WrappedKeyInvalid => KeyError::Internal(err.to_string()),
        }
    }
}

impl From<StoreError> for KeyError {
    fn from(err: StoreError) -> Self {
        KeyError::from_store(err, 0, 0)
    }
}

impl From<CryptoError> for KeyError {
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::Format(f) => KeyError::Malformed(f),
            CryptoError::AuthenticationFailed => KeyError::AuthenticationFailed,
            CryptoError::StreamAuthenticationFailed => KeyError::StreamAuthenticationFailed,
            CryptoError::WrongKind { expected, found } => KeyError::WrongKind { expected, found },
            other @ (CryptoError::InvalidKeyLength { .. }
            | CryptoError::InvalidRootKey(_)
            | CryptoError::WrappedKeyInvalid
            // The server asks no ranges and seals segments by the rules: a bug if seen.
            | CryptoError::RangeOutOfBounds { .. }
            | CryptoError::StreamMisuse(_)) => KeyError::Internal(other.to_string()),
        }
    }
}
