//! SQLite backend: one database file in WAL mode, shared safely by several processes.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Pool, Sqlite};

use super::{Backend, SqlStore};
use crate::storage_error::StoreResult;

/// The keystore in a SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 4;
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

impl Backend for Sqlite {
    const BACKEND: &'static str = "sqlite";
    // Takes the database write lock at BEGIN (waiting up to the busy timeout), so writers
    // serialize and no transaction has to upgrade a read snapshot to a write under WAL.
    const BEGIN_WRITE: Option<&'static str> = Some(BEGIN_IMMEDIATE);
    const LOCK_KEY: &'static str = "SELECT primary_version FROM keys WHERE name = $1";
    // Writers are serialized by BEGIN IMMEDIATE: a claimer sees the claims before it.
    const SKIP_CLAIMED: &'static str = "";

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn migrate(pool: &Pool<Sqlite>) -> Result<(), MigrateError> {
        // sqlx takes no migration lock on SQLite, so a process starting at the same moment
        // as another could try to apply a migration the other has just applied. Run the
        // migrator inside one IMMEDIATE transaction instead: it holds the database write lock
        // (others wait for it up to the busy timeout) and each migration becomes a savepoint.
        let mut tx = pool.begin_with(BEGIN_IMMEDIATE).await?;
        // `run_direct` is `run` on a connection; `run(&mut *tx)` trips the compiler's
        // "Acquire is not general enough" in a future that must be Send.
        MIGRATOR.run_direct(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating it if missing) the database file at `path` and applies the migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        Self::from_pool(connect(options).await?).await
    }
}

/// Connects the pool. The first connection to a new file switches it to WAL, which SQLite
/// refuses at once with SQLITE_BUSY (the busy timeout does not apply) while another process
/// does the same: retry that, within the busy timeout.
async fn connect(options: SqliteConnectOptions) -> sqlx::Result<Pool<Sqlite>> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let connected = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await;
        match connected {
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                tracing::debug!(%error, "sqlite database busy while connecting, retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            connected => return connected,
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    let code = error.as_database_error().and_then(|e| e.code());
    // Extended result codes (SQLITE_BUSY_RECOVERY…) keep the primary code in the low byte.
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == SQLITE_BUSY)
}
