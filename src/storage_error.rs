//! The one error type of the storage contracts (`KeyStore`, `EventStore`, `TokenStore`,
//! `AuditStore`). It sits below every domain so that each contract can name it without
//! importing another domain, or the SQL that implements them.

use crate::clock::Millis;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {0:?} does not exist")]
    KeyNotFound(String),
    /// A rotation without `force` found that the primary was itself created by a rotation
    /// less than the minimum interval ago (protects against retried or duplicated requests).
    #[error("key {key:?} was rotated to version {version} at {rotated_at} (ms since epoch), less than the minimum rotation interval ago")]
    RotatedRecently {
        key: String,
        version: u32,
        rotated_at: Millis,
    },
    #[error("key {key:?} is not due for rotation: its primary version {version} was created at {created_at} (ms since epoch)")]
    NotDue {
        key: String,
        version: u32,
        created_at: Millis,
    },
    /// An unfinished migration event exists and the rotation was not forced.
    #[error("key {key:?} has a migration in progress (event {event_id})")]
    MigrationInProgress { key: String, event_id: String },
    #[error("key {key:?} has no version before primary version {primary} to roll back to")]
    NoPreviousVersion { key: String, primary: u32 },
    #[error("key {key:?}: version {version} is retired and cannot become primary again")]
    PreviousVersionRetired { key: String, version: u32 },
    #[error("version {version} of key {key:?} does not exist")]
    VersionNotFound { key: String, version: u32 },
    /// A row the store cannot interpret (unknown purpose/state string, negative version…).
    #[error("corrupt keystore row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Unreachable(#[from] crate::sql_connect::ConnectError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The audit row of a change could not be written, so the change was not made either.
    #[error("the audit record could not be written: {0}")]
    AuditWrite(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;
