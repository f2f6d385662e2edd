//! The data a migration target is configured with and hands to the migration worker, and
//! its errors. No database access here.

use std::collections::BTreeMap;
use std::fmt;

use crate::storage_error::SqlCause;

/// One `[[targets]]` table of the server configuration: a column of an application table
/// whose values are Rekey ciphertexts of one key.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Unique label, e.g. `"users.oauth_token"`; names the target in logs and errors.
    pub name: String,
    /// `postgres://…` (or `postgresql://…`), `mysql://…` (MySQL or MariaDB; `mariadb://` also) or
    /// `sqlite://path`; never shown in Debug or errors.
    pub database_url: secrecy::SecretString,
    /// `"users"` or `"schema.users"` (SQLite: the attached database name, e.g. `main`).
    pub table: String,
    /// An integer (any integer type) or text column, unique, ordered.
    pub primary_key: String,
    /// The column holding the Rekey ciphertext.
    pub column: String,
    /// How the ciphertext is stored: binary (bytea/BLOB) or base64 (text).
    #[serde(default)]
    pub encoding: Encoding,
    /// The Rekey key name the column belongs to.
    pub key: String,
    /// A column whose value (cast to text, UTF-8 bytes) is the AEAD associated data.
    #[serde(default)]
    pub associated_data_column: Option<String>,
    /// Rows per batch; the worker applies its default when unset.
    #[serde(default)]
    pub batch_size: Option<crate::rotation::BatchSize>,
    /// Records per second; `None` = unlimited.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Partitions the table is cut into, migrated concurrently (1 to 64); `[rotation]
    /// parallelism` when unset.
    #[serde(default)]
    pub parallelism: Option<u32>,
}

/// How a target column stores ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Raw bytes in a bytea (PostgreSQL) or BLOB (SQLite) column.
    #[default]
    Binary,
    /// Base64 (standard alphabet, padded) in a text column.
    Base64,
}

/// A primary-key value. Ordering matches the database order the target pages in (integers
/// numerically, text by bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PkValue {
    Int(i64),
    Text(String),
}

const INT_CHECKPOINT: &str = "int:";
const TEXT_CHECKPOINT: &str = "text:";

impl PkValue {
    /// A string from which [`super::Target::parse_checkpoint`] restores this value:
    /// `int:<decimal>` or `text:<text>`.
    pub(crate) fn to_checkpoint(&self) -> String {
        match self {
            PkValue::Int(value) => format!("{INT_CHECKPOINT}{value}"),
            PkValue::Text(value) => format!("{TEXT_CHECKPOINT}{value}"),
        }
    }

    /// Parses a checkpoint for a primary key of type `kind`; `None` if it is not one.
    pub(super) fn from_checkpoint(kind: PkKind, checkpoint: &str) -> Option<PkValue> {
        match kind {
            PkKind::Int => checkpoint
                .strip_prefix(INT_CHECKPOINT)
                .and_then(|digits| digits.parse().ok())
                .map(PkValue::Int),
            PkKind::Text => checkpoint
                .strip_prefix(TEXT_CHECKPOINT)
                .map(|text| PkValue::Text(text.to_owned())),
        }
    }
}

impl fmt::Display for PkValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkValue::Int(value) => write!(f, "{value}"),
            PkValue::Text(value) => write!(f, "{value:?}"),
        }
    }
}

/// Whether a target's primary key is read as [`PkValue::Int`] or [`PkValue::Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PkKind {
    Int,
    Text,
}

/// One stored value, as read by [`super::Target::fetch_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) pk: PkValue,
    /// The column value exactly as stored (for base64: the text's bytes).
    pub(crate) stored: Vec<u8>,
    /// The associated-data column's text as UTF-8 bytes; empty without one or when NULL.
    pub(crate) associated_data: Vec<u8>,
}

/// What a stored value holds, as [`super::Target::decode`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    /// A Rekey value; `vault_form` when it is stored in Vault Transit's text form, which a
    /// migration keeps. Borrowed from the row when stored as is (no copy of a large value).
    Rekey {
        value: std::borrow::Cow<'a, [u8]>,
        vault_form: bool,
    },
    /// What Vault itself sealed with version `version` of a key imported from it; a migration
    /// turns it into a Rekey value in Vault's text form.
    VaultSealed { version: u32, sealed: Vec<u8> },
}

/// A replacement for [`super::Target::compare_and_swap`]: `new_stored` is written only if
/// the row still holds `old_stored`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Update {
    pub(crate) pk: PkValue,
    pub(crate) old_stored: Vec<u8>,
    pub(crate) new_stored: Vec<u8>,
    /// `old_stored` and `new_stored` are only the head of the value (as long as each other,
    /// see [`super::Target::writes_heads`]): the new head is written over the stored value's
    /// first bytes if they still equal the old head, and the rest of the value stays as it is.
    pub(crate) head_only: bool,
}

/// How many stored values use each version of a key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct VersionCounts {
    pub(crate) by_version: BTreeMap<u32, u64>,
    /// Values that are not a Rekey ciphertext of the key (garbage, another key, a signature).
    pub(crate) unreadable: u64,
}

/// What went wrong with a target. Messages name the target and what to fix; they never
/// contain the database URL or any stored value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetError {
    #[error("migration target {target:?}: invalid configuration: {reason}")]
    Config { target: String, reason: String },
    #[error(
        "migration target {target:?}: the database does not match the configuration: {reason}"
    )]
    Schema { target: String, reason: String },
    #[error("migration target {target:?}: {source}")]
    Unreachable {
        target: String,
        source: crate::sql_connect::ConnectError,
    },
    /// `cause` is said in full in the message, so it is not the `source()` (see `SqlCause`).
    #[error("migration target {target:?}: {}", SqlCause(.cause))]
    Database { target: String, cause: sqlx::Error },
    #[error(
        "migration target {target:?}: checkpoint {checkpoint:?} is not a position in this \
         table's primary key; remove the checkpoint to restart the migration from the start"
    )]
    BadCheckpoint { target: String, checkpoint: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip() {
        let values = [
            (PkKind::Int, PkValue::Int(0)),
            (PkKind::Int, PkValue::Int(i64::MIN)),
            (PkKind::Int, PkValue::Int(i64::MAX)),
            (PkKind::Text, PkValue::Text(String::new())),
            (PkKind::Text, PkValue::Text("int:5".into())),
            (PkKind::Text, PkValue::Text("a:b\nc \u{e9}".into())),
        ];
        for (kind, value) in values {
            let checkpoint = value.to_checkpoint();
            assert_eq!(
                PkValue::from_checkpoint(kind, &checkpoint),
                Some(value.clone())
            );
        }
    }

    #[test]
    fn checkpoints_of_the_wrong_kind_are_rejected() {
        for (kind, bad) in [
            (PkKind::Int, "text:5"),
            (PkKind::Int, "int:"),
            (PkKind::Int, "int:5x"),
            (PkKind::Int, "5"),
            (PkKind::Int, "int:99999999999999999999"),
            (PkKind::Text, "int:5"),
            (PkKind::Text, "abc"),
        ] {
            assert_eq!(PkValue::from_checkpoint(kind, bad), None, "{bad}");
        }
    }

    #[test]
    fn pk_values_display_and_order() {
        assert_eq!(PkValue::Int(-3).to_string(), "-3");
        assert_eq!(PkValue::Text("a \"b\"".into()).to_string(), r#""a \"b\"""#);
        assert!(PkValue::Text("B".into()) < PkValue::Text("a".into()));
        assert!(PkValue::Text("z".into()) < PkValue::Text("\u{e4}".into()));
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let config: TargetConfig = toml::from_str(
            r#"
            name = "users.token"
            database_url = "postgres://app:hunter2@db/app"
            table = "users"
            primary_key = "id"
            column = "token"
            key = "tokens"
            "#,
        )
        .expect("valid config");
        assert_eq!(config.encoding, Encoding::Binary);
        assert_eq!(config.associated_data_column, None);
        assert!(!format!("{config:?}").contains("hunter2"));
        let base64: Encoding =
            serde::Deserialize::deserialize(toml::Value::String("base64".into()))
                .expect("lowercase name");
        assert_eq!(base64, Encoding::Base64);
        let unknown = toml::from_str::<TargetConfig>(
            "name='a'\ndatabase_url='sqlite://a'\ntable='t'\nprimary_key='id'\ncolumn='c'\n\
             key='k'\ncolum='typo'",
        );
        assert!(unknown.is_err());
    }
}
