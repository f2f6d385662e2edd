//! The one error type of the storage contracts (`KeyStore`, `EventStore`, `TokenStore`,
//! `AuditStore`). It sits below every domain so that each contract can name it without
//! importing another domain, or the SQL that implements them.

use std::fmt;

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
    /// The message holds sqlx's reason in full, so the sqlx error is deliberately not the
    /// `source()`: a printer that walks the chain would say the reason twice.
    #[error("{}", SqlCause(.0))]
    Database(sqlx::Error),
    /// The audit row of a change could not be written, so the change was not made either.
    #[error("the audit record could not be written: {}", SqlCause(.0))]
    AuditWrite(sqlx::Error),
    #[error("{}", MigrationCause(.0))]
    Migration(sqlx::migrate::MigrateError),
    /// The root key could not wrap a new version (token or KMS unreachable), so nothing was
    /// written.
    #[error("{0}")]
    RootKeyUnavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e)
    }
}

/// A database error said once. sqlx's own words already begin "error returned from
/// database: …" or "error communicating with database: …", so wrapping them in
/// "database error: …" said it twice; this names what failed, then the database's own reason.
pub(crate) struct SqlCause<'a>(pub(crate) &'a sqlx::Error);

impl fmt::Display for SqlCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            sqlx::Error::Database(e) => write!(f, "the database refused the statement: {e}"),
            sqlx::Error::Io(e) => write!(f, "the database connection failed: {e}"),
            sqlx::Error::Tls(e) => write!(f, "the database's TLS handshake failed: {e}"),
            sqlx::Error::Configuration(e) => write!(f, "the database settings are invalid: {e}"),
            sqlx::Error::PoolTimedOut => {
                f.write_str("no database connection became free in time (the pool timed out)")
            }
            other => write!(f, "database: {other}"),
        }
    }
}

/// A failed schema migration said once, naming the migration where sqlx knows it.
struct MigrationCause<'a>(&'a sqlx::migrate::MigrateError);

impl fmt::Display for MigrationCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sqlx::migrate::MigrateError;
        match self.0 {
            MigrateError::Execute(e) => {
                write!(f, "the schema migrations could not run: {}", SqlCause(e))
            }
            MigrateError::ExecuteMigration(e, version) => {
                write!(f, "schema migration {version} failed: {}", SqlCause(e))
            }
            other => write!(f, "the keystore's schema could not be migrated: {other}"),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_says_database_once() {
        let cases = [
            StoreError::Database(sqlx::Error::PoolTimedOut),
            StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ))),
            StoreError::AuditWrite(sqlx::Error::RowNotFound),
            StoreError::Migration(sqlx::migrate::MigrateError::ExecuteMigration(
                sqlx::Error::PoolClosed,
                3,
            )),
        ];
        for error in cases {
            // The message is the whole story: nothing below it for a printer to repeat.
            assert!(std::error::Error::source(&error).is_none(), "{error}");
            let text = error.to_string();
            assert_eq!(text.matches("database").count(), 1, "{text}");
            assert!(!text.contains("error: "), "{text}");
        }
        let text = StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )))
        .to_string();
        assert_eq!(
            text,
            "the database connection failed: connection reset by peer"
        );
    }

    #[tokio::test]
    async fn a_refused_statement_gives_the_database_reason_once() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let refused = sqlx::query("SELECT * FROM no_such_table")
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(
            StoreError::from(refused).to_string(),
            "the database refused the statement: (code: 1) no such table: no_such_table"
        );
    }
}
