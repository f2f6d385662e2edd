//! Migration targets: the database adapter the migration worker uses to read and re-encrypt
//! the Rekey ciphertexts an application stores in one column of one of its tables, in
//! PostgreSQL or SQLite.
//!
//! A `Target` pages through the table by primary key (`Target::fetch_batch`), writes
//! re-encrypted values back only where the application has not changed them meanwhile
//! (`Target::compare_and_swap`), and reports which key versions the stored values use
//! from their first bytes alone (`Target::version_counts`).
//!
//! Layout: `types` (configuration, values, errors), `ident` (identifier checks), `schema`
//! (column checks), `counts` (version tally), `sql` (statements and queries shared by the
//! backends) and one file per backend.

mod bounds;
mod counts;
mod ident;
mod mysql;
mod postgres;
mod schema;
mod sql;
mod sqlite;
mod types;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrecy::ExposeSecret as _;
use sqlx::{MySql, Postgres, Sqlite};

pub use types::{Encoding, TargetConfig};
pub(crate) use types::{PkValue, Row, Stored, TargetError, Update, VersionCounts};

use ident::Names;
use sql::SqlTarget;
use types::PkKind;

/// Connections per target pool at least: each lane of the worker uses one at a time (so a
/// pool has one per lane of `parallelism`, plus one), the rest absorb counts and impact reports.
const MAX_CONNECTIONS: u32 = 4;

/// The connections a target's pool may open for `parallelism` lanes.
fn pool_size(parallelism: Option<u32>) -> u32 {
    MAX_CONNECTIONS.max(parallelism.unwrap_or(1).saturating_add(1))
}

/// A connected, validated migration target.
pub(crate) struct Target {
    config: TargetConfig,
    db: Db,
}

enum Db {
    Postgres(SqlTarget<Postgres>),
    MySql(SqlTarget<MySql>),
    Sqlite(SqlTarget<Sqlite>),
}

/// Runs the same expression on whichever backend `$db` holds.
macro_rules! on_backend {
    ($db:expr, $target:ident => $body:expr) => {
        match $db {
            Db::Postgres($target) => $body,
            Db::MySql($target) => $body,
            Db::Sqlite($target) => $body,
        }
    };
}

impl Target {
    /// Checks the identifiers, connects (a pool of at most max(4, parallelism + 1)
    /// connections) and checks that the table has the configured columns with suitable types.
    ///
    /// # Errors
    /// [`TargetError::Config`] for a bad identifier, key name or URL, [`TargetError::Schema`]
    /// when the table does not match, [`TargetError::Unreachable`] when connecting fails.
    pub(crate) async fn connect(config: TargetConfig) -> Result<Target, TargetError> {
        let config_error = |reason: String| TargetError::Config {
            target: config.name.clone(),
            reason,
        };
        let names = Names::from_config(&config)?;
        crate::crypto::validate_key_name(&config.key)
            .map_err(|error| config_error(format!("key: {error}")))?;
        let url = config.database_url.expose_secret();
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let db = match scheme.as_deref() {
            Some("postgres" | "postgresql") => {
                Db::Postgres(SqlTarget::open(&config, &names, url).await?)
            }
            Some("mysql" | "mariadb") => Db::MySql(SqlTarget::open(&config, &names, url).await?),
            Some("sqlite") => Db::Sqlite(SqlTarget::open(&config, &names, url).await?),
            _ => {
                return Err(config_error(
                    "database_url must start with postgres://, mysql:// (MySQL or MariaDB) or \
                     sqlite://"
                        .into(),
                ))
            }
        };
        let target = Target { config, db };
        tracing::info!(
            migration_target = %target.config.name,
            backend = target.backend(),
            table = %target.config.table,
            column = %target.config.column,
            "connected migration target"
        );
        Ok(target)
    }

    pub(crate) fn config(&self) -> &TargetConfig {
        &self.config
    }

    fn backend(&self) -> &'static str {
        on_backend!(&self.db, t => t.backend())
    }

    fn pk_kind(&self) -> PkKind {
        on_backend!(&self.db, t => t.kind())
    }

    /// Up to `limit` rows with a non-NULL value and a primary key after `after` (from the
    /// start when `None`) and up to `upto` inclusive (to the end when `None`), in
    /// primary-key order.
    ///
    /// # Errors
    /// [`TargetError::BadCheckpoint`] if `after` or `upto` is not of the primary key's type;
    /// [`TargetError::Database`].
    pub(crate) async fn fetch_batch(
        &self,
        after: Option<&PkValue>,
        upto: Option<&PkValue>,
        limit: u32,
    ) -> Result<Vec<Row>, TargetError> {
        for bound in after.into_iter().chain(upto) {
            if !self.is_pk(bound) {
                return Err(TargetError::BadCheckpoint {
                    target: self.config.name.clone(),
                    checkpoint: bound.to_checkpoint(),
                });
            }
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        on_backend!(&self.db, t => t.fetch_batch(after, upto, limit).await)
    }

    /// Up to `partitions - 1` ascending primary keys that cut the rows a migration reads into
    /// `partitions` parts of about equal size (integer keys: even key ranges; text keys: even
    /// row counts, sampled in the order the target pages in). A part runs from after one key
    /// to the next, inclusive; the first and last are open-ended.
    ///
    /// # Errors
    /// [`TargetError::Database`].
    pub(crate) async fn partition_bounds(
        &self,
        partitions: u32,
    ) -> Result<Vec<PkValue>, TargetError> {
        on_backend!(&self.db, t => t.partition_bounds(partitions).await)
    }

    /// Sets the column to `new_stored` in each row whose primary key matches and whose value
    /// still equals `old_stored`, all in one transaction. Returns the primary keys of the rows
    /// changed; rows the application changed meanwhile are left alone and not returned (as
    /// are updates that cannot match a row: a primary key of the wrong type, or non-UTF-8
    /// values for a base64 column).
    ///
    /// # Errors
    /// [`TargetError::Database`]; then no row was changed.
    pub(crate) async fn compare_and_swap(
        &self,
        updates: &[Update],
    ) -> Result<Vec<PkValue>, TargetError> {
        let usable: Vec<&Update> = updates.iter().filter(|u| self.can_match(u)).collect();
        if usable.is_empty() {
            return Ok(Vec::new());
        }
        on_backend!(&self.db, t => t.compare_and_swap(&usable).await)
    }

    /// How many stored values use each version of `key_name`, read from the first bytes of
    /// each value (grouped in the database): nothing is decrypted or transferred whole.
    ///
    /// # Errors
    /// [`TargetError::Config`] for an invalid key name; [`TargetError::Database`].
    pub(crate) async fn version_counts(
        &self,
        key_name: &str,
    ) -> Result<VersionCounts, TargetError> {
        crate::crypto::validate_key_name(key_name).map_err(|error| TargetError::Config {
            target: self.config.name.clone(),
            reason: format!("key name for version counts: {error}"),
        })?;
        on_backend!(&self.db, t => t.version_counts(key_name).await)
    }

    /// The value in a stored one: itself (binary), its base64 decoding, or in a base64 column
    /// a value in Vault Transit's text form (`vault:v<N>:<base64>`: a Rekey value the Transit
    /// API made, or one Vault sealed under a key imported from it); `None` if it is none of
    /// these.
    pub(crate) fn decode<'a>(&self, stored: &'a [u8]) -> Option<Stored<'a>> {
        match self.config.encoding {
            Encoding::Binary => Some(Stored::Rekey {
                value: Cow::Borrowed(stored),
                vault_form: false,
            }),
            Encoding::Base64 if crate::crypto::is_vault_form(stored) => {
                let parsed = crate::crypto::parse_vault_value(stored).ok()?;
                match crate::crypto::Envelope::parse(&parsed.bytes) {
                    // A prefix that disagrees with the value was altered: not migrated.
                    Ok(envelope) if envelope.key_version != parsed.version => None,
                    Ok(_) => Some(Stored::Rekey {
                        value: Cow::Owned(parsed.bytes),
                        vault_form: true,
                    }),
                    Err(_) => Some(Stored::VaultSealed {
                        version: parsed.version,
                        sealed: parsed.bytes,
                    }),
                }
            }
            Encoding::Base64 => STANDARD.decode(stored).ok().map(|value| Stored::Rekey {
                value: Cow::Owned(value),
                vault_form: false,
            }),
        }
    }

    /// The value to store for the Rekey value `value` of version `version`, in Vault's text
    /// form when `vault_form` (the reverse of [`Target::decode`]).
    pub(crate) fn encode(&self, value: Vec<u8>, version: u32, vault_form: bool) -> Vec<u8> {
        match self.config.encoding {
            // Written as is: no copy of a large value.
            Encoding::Binary => value,
            Encoding::Base64 if vault_form => {
                crate::crypto::format_vault_value(version, &value).into_bytes()
            }
            Encoding::Base64 => STANDARD.encode(&value).into_bytes(),
        }
    }

    /// Restores a primary key from [`PkValue::to_checkpoint`].
    ///
    /// # Errors
    /// [`TargetError::BadCheckpoint`] if it is not a checkpoint of this primary key's type.
    pub(crate) fn parse_checkpoint(&self, checkpoint: &str) -> Result<PkValue, TargetError> {
        PkValue::from_checkpoint(self.pk_kind(), checkpoint).ok_or_else(|| {
            TargetError::BadCheckpoint {
                target: self.config.name.clone(),
                checkpoint: checkpoint.to_owned(),
            }
        })
    }

    fn is_pk(&self, pk: &PkValue) -> bool {
        matches!(
            (self.pk_kind(), pk),
            (PkKind::Int, PkValue::Int(_)) | (PkKind::Text, PkValue::Text(_))
        )
    }

    fn can_match(&self, update: &Update) -> bool {
        let is_text = |value: &[u8]| std::str::from_utf8(value).is_ok();
        let shape = if update.head_only {
            self.writes_heads() && update.old_stored.len() == update.new_stored.len()
        } else {
            self.config.encoding == Encoding::Binary
                || (is_text(&update.old_stored) && is_text(&update.new_stored))
        };
        self.is_pk(&update.pk) && shape
    }

    /// Whether this target takes head-only updates ([`Update::head_only`]): a binary column
    /// on PostgreSQL or MySQL, where the head is compared and rewritten in the database. A
    /// migration then moves an envelope value by its head alone, whatever its size.
    pub(crate) fn writes_heads(&self) -> bool {
        on_backend!(&self.db, t => t.writes_heads())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.config.name)
            .field("backend", &self.backend())
            .field("table", &self.config.table)
            .field("column", &self.config.column)
            .field("encoding", &self.config.encoding)
            .field("key", &self.config.key)
            .finish_non_exhaustive()
    }
}
