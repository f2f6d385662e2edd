//! PostgreSQL backend, for several server processes sharing one database.

use sqlx::migrate::{MigrateError, Migrator};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgQueryResult};
use sqlx::{Pool, Postgres};

use super::{Backend, SqlStore};
use crate::sql_connect::connect_pool;
use crate::storage_error::StoreResult;

/// The keystore in a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres>;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

impl Backend for Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: Option<&'static str> = None;
    // Writers of one key queue on its row; READ COMMITTED then shows each the rows the
    // previous one committed.
    const LOCK_KEY: &'static str = "SELECT primary_version FROM keys WHERE name = $1 FOR UPDATE";
    // Without it, replicas racing for the first free partition queue on its row, and every
    // one but the first re-checks it, finds it claimed and claims nothing.
    const SKIP_CLAIMED: &'static str = " FOR UPDATE OF p SKIP LOCKED";

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn migrate(pool: &Pool<Postgres>) -> Result<(), MigrateError> {
        // The migrator holds a PostgreSQL advisory lock (per database) while it checks and
        // applies migrations, so processes starting at once apply each migration once.
        MIGRATOR.run(pool).await
    }
}

impl SqlStore<Postgres> {
    /// Connects a pool of at most `max_connections` to `url` and applies the migrations.
    /// An unreachable database fails within seconds, naming its host and port.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        // The parser's message may quote the URL and its password, so it is not passed on.
        let options = PgConnectOptions::from_str(url).map_err(|_| {
            sqlx::Error::Configuration("the database URL is not a valid postgres:// URL".into())
        })?;
        let address = format!("{}:{}", options.get_host(), options.get_port());
        let pool =
            connect_pool::<Postgres>("PostgreSQL", address, options, max_connections).await?;
        Self::from_pool(pool).await
    }
}
