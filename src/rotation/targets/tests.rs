//! End-to-end tests of [`Target`] against real databases: SQLite (a temporary file) always,
//! PostgreSQL when `REKEY_TEST_DATABASE_URL` is set (each test in its own schema, dropped at
//! the end), MariaDB or MySQL when `REKEY_TEST_MYSQL_URL` is set (each test in its own
//! database, dropped at the end). Every scenario runs on every backend. This file is the harness; the scenarios
//! are in `tests/`.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{MySqlPool, PgPool, SqlitePool};

use super::*;
use crate::crypto::{EncryptionKey, Envelope, KeyMaterial, SigningKey};

const KEY: &str = "app.tokens";
const PG_URL_VAR: &str = "REKEY_TEST_DATABASE_URL";
const MYSQL_URL_VAR: &str = "REKEY_TEST_MYSQL_URL";

enum TestPool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// An application database to point targets at.
struct TestDb {
    pool: TestPool,
    url: String,
    /// PostgreSQL: the schema holding this test's tables; MySQL: the database.
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    crate::crypto::rng::fill(&mut bytes);
    hex::encode(bytes)
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("app.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .expect("create the SQLite database");
        TestDb {
            pool: TestPool::Sqlite(pool),
            url: format!("sqlite://{}", path.display()),
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A fresh schema on the PostgreSQL suite's server. These tests are `#[ignore]`d in a
    /// plain `cargo test` and run by `cargo test -- --ignored` with the URL set; there, a
    /// missing URL is a failure, not a skip.
    async fn postgres() -> Option<TestDb> {
        let url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "the PostgreSQL suite needs {PG_URL_VAR}, e.g. postgres://root@127.0.0.1:5432/test"
            )
        });
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("connect to REKEY_TEST_DATABASE_URL");
        let schema = format!("rk_target_{}", random_suffix());
        let db = TestDb {
            pool: TestPool::Postgres(pool),
            url,
            schema: Some(schema.clone()),
            _dir: None,
        };
        db.exec(&format!("CREATE SCHEMA {schema}")).await;
        Some(db)
    }

    /// A fresh database on the MariaDB suite's server (`#[ignore]`d in a plain `cargo test`,
    /// run with the URL set by `cargo test -- --ignored`, where a missing URL fails). The
    /// scenarios' own SQL quotes identifiers with `"`, so their connections use ANSI_QUOTES;
    /// the targets under test connect as applications do, without it.
    async fn mysql() -> Option<TestDb> {
        let url = std::env::var(MYSQL_URL_VAR).unwrap_or_else(|_| {
            panic!("the MariaDB suite needs {MYSQL_URL_VAR}, e.g. mysql://root@127.0.0.1:3306/test")
        });
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    let set = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')";
                    sqlx::Executor::execute(&mut *conn, set).await.map(drop)
                })
            })
            .connect(&url)
            .await
            .expect("connect to REKEY_TEST_MYSQL_URL");
        let database = format!("rk_target_{}", random_suffix());
        let db = TestDb {
            pool: TestPool::MySql(pool),
            url,
            schema: Some(database.clone()),
            _dir: None,
        };
        db.exec(&format!("CREATE DATABASE {database}")).await;
        Some(db)
    }

    fn is_postgres(&self) -> bool {
        matches!(self.pool, TestPool::Postgres(_))
    }

    fn is_mysql(&self) -> bool {
        matches!(self.pool, TestPool::MySql(_))
    }

    /// `name` qualified with this test's schema, as written in a target's `table`.
    fn table(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{name}"),
            None => name.to_owned(),
        }
    }

    fn blob_type(&self) -> &'static str {
        match self.pool {
            TestPool::Postgres(_) => "BYTEA",
            TestPool::MySql(_) => "LONGBLOB",
            TestPool::Sqlite(_) => "BLOB",
        }
    }

    /// A SQL literal of `bytes` for a binary column.
    fn bytes(&self, bytes: &[u8]) -> String {
        if self.is_postgres() {
            format!("'\\x{}'::bytea", hex::encode(bytes))
        } else {
            format!("X'{}'", hex::encode(bytes))
        }
    }

    async fn exec(&self, sql: &str) {
        let done = match &self.pool {
            TestPool::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            TestPool::MySql(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            TestPool::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        };
        done.unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    fn config(&self, table: &str, column: &str, encoding: Encoding) -> TargetConfig {
        TargetConfig {
            name: format!("{table}.{column}"),
            database_url: self.url.clone().into(),
            table: self.table(table),
            primary_key: "id".into(),
            column: column.into(),
            encoding,
            key: KEY.into(),
            associated_data_column: None,
            batch_size: None,
            rate_limit: None,
            parallelism: None,
        }
    }

    async fn connect(&self, config: TargetConfig) -> Target {
        Target::connect(config).await.expect("connect the target")
    }

    async fn finish(&self) {
        match (&self.schema, &self.pool) {
            (Some(database), TestPool::MySql(_)) => {
                self.exec(&format!("DROP DATABASE {database}")).await;
            }
            (Some(schema), _) => self.exec(&format!("DROP SCHEMA {schema} CASCADE")).await,
            (None, _) => {}
        }
    }
}

/// Runs `scenario`, then drops the test's tables even if it panicked.
async fn run(db: Option<TestDb>, scenario: impl AsyncFnOnce(&TestDb)) {
    let Some(db) = db else { return };
    let outcome = AssertUnwindSafe(scenario(&db)).catch_unwind().await;
    db.finish().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One `#[tokio::test]` per scenario and backend: `sqlite::<name>`, `postgres::<name>` and
/// `mysql::<name>`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::run(Some(super::TestDb::sqlite().await), super::$scenario).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            #[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
            async fn $scenario() {
                super::run(super::TestDb::postgres().await, super::$scenario).await;
            })*
        }
        mod mysql {
            $(#[tokio::test]
            #[ignore = "MariaDB suite: REKEY_TEST_MYSQL_URL=mysql://... cargo test -- --ignored"]
            async fn $scenario() {
                super::run(super::TestDb::mysql().await, super::$scenario).await;
            })*
        }
    };
}

struct Keys {
    key: EncryptionKey,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            key: EncryptionKey::new(&KeyMaterial::generate()),
        }
    }

    fn encrypt(&self, version: u32, plaintext: &[u8], ad: &[u8]) -> Vec<u8> {
        self.key
            .encrypt(KEY, version, plaintext, ad)
            .expect("encrypt")
    }

    fn decrypt(&self, ciphertext: &[u8], ad: &[u8]) -> Vec<u8> {
        let envelope = Envelope::parse(ciphertext).expect("a ciphertext");
        self.key.decrypt(&envelope, ad).expect("decrypts").to_vec()
    }
}

fn version_of(ciphertext: &[u8]) -> u32 {
    Envelope::parse(ciphertext)
        .expect("a ciphertext")
        .key_version
}

/// Reads the whole table `limit` rows at a time, resuming from a checkpoint string each time.
async fn fetch_all(target: &Target, limit: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut checkpoint: Option<String> = None;
    loop {
        let after = checkpoint.map(|c| target.parse_checkpoint(&c).expect("checkpoint"));
        let batch = target
            .fetch_batch(after.as_ref(), None, limit)
            .await
            .expect("fetch");
        assert!(batch.len() <= limit as usize);
        let Some(last) = batch.last() else {
            return rows;
        };
        checkpoint = Some(last.pk.to_checkpoint());
        rows.extend(batch);
    }
}

/// Reads the whole table partition by partition, cut into `partitions` by the target's own
/// bounds (each read `limit` rows at a time from its lower bound up to its upper bound), and
/// checks the bounds ascend.
async fn fetch_partitioned(target: &Target, partitions: u32, limit: u32) -> Vec<Row> {
    let bounds = target
        .partition_bounds(partitions)
        .await
        .expect("partition bounds");
    assert!(bounds.len() < partitions.max(1) as usize, "{bounds:?}");
    assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
    let lowers = std::iter::once(None).chain(bounds.iter().cloned().map(Some));
    let uppers = bounds
        .iter()
        .cloned()
        .map(Some)
        .chain(std::iter::once(None));
    let mut rows = Vec::new();
    for (lower, upper) in lowers.zip(uppers) {
        let mut after = lower;
        loop {
            let batch = target
                .fetch_batch(after.as_ref(), upper.as_ref(), limit)
                .await
                .expect("fetch a partition");
            let Some(last) = batch.last() else { break };
            assert!(upper.as_ref().is_none_or(|upper| last.pk <= *upper));
            after = Some(last.pk.clone());
            rows.extend(batch);
        }
    }
    rows
}

fn reason_of(error: TargetError) -> String {
    match error {
        TargetError::Config { reason, .. } | TargetError::Schema { reason, .. } => reason,
        other => panic!("expected a configuration or schema error, got {other:?}"),
    }
}

mod heads;
mod paging;
mod rewriting;
mod validation;
