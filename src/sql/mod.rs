//! The SQL room: one implementation of every storage contract ([`KeyStore`], [`EventStore`],
//! [`TokenStore`], [`AuditStore`]) for SQLite and PostgreSQL. The SQL is written once, in the
//! dialect common to both (`$n` parameters, `ON CONFLICT`); each backend supplies only what
//! differs through [`Backend`]: how a write transaction begins, how it locks a key row, and
//! its migrations.
//!
//! [`KeyStore`]: crate::keystore::store::KeyStore
//! [`EventStore`]: crate::rotation::events::EventStore
//! [`TokenStore`]: crate::auth::store::TokenStore
//! [`AuditStore`]: crate::audit::AuditStore

mod audit;
mod event_inserts;
mod event_work;
mod events;
mod import;
mod keys;
mod postgres;
mod primary;
mod rows;
mod sqlite;
mod tokens;

use std::fmt;
use std::future::Future;

use sqlx::migrate::MigrateError;
use sqlx::{Database, Pool, Transaction};

use crate::storage_error::StoreResult;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// What a database needs to back a [`SqlStore`].
pub trait Backend: Database {
    /// Short name for logs, as returned by [`KeyStore::backend`](crate::keystore::store::KeyStore::backend).
    const BACKEND: &'static str;
    /// Statement that opens a transaction that will write (`None`: the driver's `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// Selects `primary_version` of key `$1` and holds the key row against other writers
    /// until the transaction ends.
    const LOCK_KEY: &'static str;
    /// Ends a `SELECT … FROM rotation_event_partitions p …` that picks a partition to claim
    /// so that claimers racing for the first free one each get a different one.
    const SKIP_CLAIMED: &'static str;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Applies the backend's migrations; safe when several processes start at once.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send;
}

/// A keystore in a SQL database. Use it as `SqliteStore` or `PostgresStore`.
pub struct SqlStore<DB: Backend> {
    pool: Pool<DB>,
}

impl<DB: Backend> SqlStore<DB> {
    /// Wraps an existing pool, applying the migrations first.
    pub(crate) async fn from_pool(pool: Pool<DB>) -> StoreResult<Self> {
        DB::migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for other tables in the same database.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: Backend> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &DB::BACKEND)
            .field("pool_size", &self.pool.size())
            .finish()
    }
}

/// Begins a transaction that will write, as the backend wants it begun.
async fn begin_write<DB: Backend>(pool: &Pool<DB>) -> sqlx::Result<Transaction<'static, DB>> {
    match DB::BEGIN_WRITE {
        Some(statement) => pool.begin_with(statement).await,
        None => pool.begin().await,
    }
}
