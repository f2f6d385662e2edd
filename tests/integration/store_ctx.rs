//! The harness of the storage suites (`store_suite`, `audit_suite`): each case gets a fresh
//! SQLite file, or a fresh PostgreSQL database in the PostgreSQL suite, and opens stores on it
//! itself, as many as it needs.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use rekey::storage::PostgresStore;
use rekey::storage::SqliteStore;
use sqlx::Executor;

use crate::support::pg;

/// Where a case's database lives.
#[derive(Clone)]
pub enum Ctx {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Declares each case once per backend: `sqlite::<case>` and `postgres::<case>`.
#[macro_export]
macro_rules! storage_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::store_ctx::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
                async fn $case() {
                    $crate::store_ctx::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    case(Ctx::Sqlite(dir.path().join("keystore.db"))).await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = pg::test_database_url().expect(
        "the PostgreSQL suite needs REKEY_TEST_DATABASE_URL, e.g. postgres://root@127.0.0.1:5432/test",
    );
    let db = pg::fresh_database(&admin_url).await;
    // Run the case as a task so that the database is dropped even when it panics.
    let outcome = tokio::spawn(case(Ctx::Postgres(db.url.clone()))).await;
    db.drop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A store over the case's database, through whichever storage trait a suite tests.
pub enum Opened {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

impl Ctx {
    /// A new store instance with its own pool (migrating the database if needed).
    pub async fn store(&self) -> Opened {
        match self {
            Ctx::Sqlite(path) => Opened::Sqlite(Arc::new(
                SqliteStore::open(path).await.expect("open sqlite"),
            )),
            Ctx::Postgres(url) => Opened::Postgres(Arc::new(
                PostgresStore::connect(url, 5).await.expect("connect"),
            )),
        }
    }

    /// Runs `setup` then `sql` on one connection, as someone with direct database access.
    pub async fn execute_with(&self, setup: &[&str], sql: &[&str]) -> Result<(), sqlx::Error> {
        match self {
            Ctx::Sqlite(path) => {
                let store = SqliteStore::open(path).await.expect("open sqlite");
                let mut conn = store.pool().acquire().await?;
                for statement in setup.iter().chain(sql) {
                    conn.execute(*statement).await?;
                }
            }
            Ctx::Postgres(url) => {
                let store = PostgresStore::connect(url, 1).await.expect("connect");
                let mut conn = store.pool().acquire().await?;
                for statement in setup.iter().chain(sql) {
                    conn.execute(*statement).await?;
                }
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Ctx::Sqlite(_) => "sqlite",
            Ctx::Postgres(_) => "postgres",
        }
    }
}
