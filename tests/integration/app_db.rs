//! A stand-in for an application database holding Rekey ciphertexts: a table `secrets`
//! (id, token = ciphertext, owner = associated data) on SQLite, PostgreSQL or MariaDB.

use rekey::crypto::{EncryptionKey, KeyMaterial};
use rekey::rotation::targets::{Encoding, TargetConfig};
use secrecy::SecretString;
use sqlx::{AnyPool, Row};

use crate::support::{Backend, TestEnv};

/// Material of TOKEN_ENCRYPTION version 1 in these tests, imported through the legacy
/// variable so that tests can make (and check) v1 ciphertexts offline, quickly.
pub const LEGACY_V1: [u8; 32] = [0x42; 32];
pub const KEY: &str = "TOKEN_ENCRYPTION";

pub fn legacy_v1() -> EncryptionKey {
    EncryptionKey::new(&KeyMaterial::from_bytes(LEGACY_V1))
}

pub fn plaintext(id: i64) -> Vec<u8> {
    format!("oauth-token-{id:010}-{}", "x".repeat(32)).into_bytes()
}

pub fn owner(id: i64) -> String {
    format!("user-{id}")
}

/// Where the application table lives: in the keystore's own SQLite file folder or
/// PostgreSQL database, or in a database of its own on the MariaDB suite's server
/// (`REKEY_TEST_MYSQL_URL`) beside a SQLite keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppBackend {
    Sqlite,
    Postgres,
    MariaDb,
}

impl AppBackend {
    /// The keystore these tests run beside this application database.
    pub fn keystore(self) -> Backend {
        match self {
            AppBackend::Sqlite | AppBackend::MariaDb => Backend::Sqlite,
            AppBackend::Postgres => Backend::Postgres,
        }
    }
}

impl From<Backend> for AppBackend {
    fn from(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => AppBackend::Sqlite,
            Backend::Postgres => AppBackend::Postgres,
        }
    }
}

const MYSQL_URL_VAR: &str = "REKEY_TEST_MYSQL_URL";

pub struct AppDb {
    pub url: String,
    pub pool: AnyPool,
    pub backend: AppBackend,
    /// MariaDB: the database made for this test, dropped with it (server URL, name).
    mariadb: Option<(String, String)>,
}

impl AppDb {
    /// Creates `secrets` with `rows` rows encrypted under TOKEN_ENCRYPTION v1 (legacy key).
    pub async fn create(env: &TestEnv, backend: impl Into<AppBackend>, rows: i64) -> Self {
        sqlx::any::install_default_drivers();
        let backend = backend.into();
        let mut mariadb = None;
        let (url, connect_url) = match backend {
            AppBackend::Sqlite => {
                let url = format!("sqlite://{}", env.dir().join("app.db").display());
                let connect = format!("{url}?mode=rwc");
                (url, connect)
            }
            AppBackend::Postgres => {
                let url = env.database_url().expect("postgres url");
                (url.clone(), url)
            }
            AppBackend::MariaDb => {
                let (server, url) = create_mariadb_database().await;
                mariadb = Some((server, database_of(&url).to_owned()));
                (url.clone(), url)
            }
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(4)
            .connect(&connect_url)
            .await
            .unwrap();
        let blob = match backend {
            AppBackend::Sqlite | AppBackend::MariaDb => "BLOB",
            AppBackend::Postgres => "BYTEA",
        };
        sqlx::query(&format!(
            "CREATE TABLE secrets (id BIGINT PRIMARY KEY, token {blob}, owner TEXT NOT NULL)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        let db = Self {
            url,
            pool,
            backend,
            mariadb,
        };
        db.insert_v1(1, rows).await;
        db
    }

    /// `sql` with `$1, $2, …` placeholders (bound in that order) as this database takes it.
    pub fn sql(&self, sql: &str) -> String {
        match self.backend {
            AppBackend::MariaDb => {
                let mut out = String::with_capacity(sql.len());
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                        while chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                        out.push('?');
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            AppBackend::Sqlite | AppBackend::Postgres => sql.to_owned(),
        }
    }

    /// Inserts ids `first..first+count` encrypted under v1.
    pub async fn insert_v1(&self, first: i64, count: i64) {
        let key = legacy_v1();
        let mut tx = self.pool.begin().await.unwrap();
        for id in first..first + count {
            let ct = key
                .encrypt(KEY, 1, &plaintext(id), owner(id).as_bytes())
                .unwrap();
            self.insert_raw(&mut tx, id, &ct).await;
        }
        tx.commit().await.unwrap();
    }

    pub async fn insert_raw(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
        token: &[u8],
    ) {
        sqlx::query(&self.sql("INSERT INTO secrets (id, token, owner) VALUES ($1, $2, $3)"))
            .bind(id)
            .bind(token.to_vec())
            .bind(owner(id))
            .execute(&mut **tx)
            .await
            .unwrap();
    }

    pub async fn set(&self, id: i64, token: &[u8]) {
        sqlx::query(&self.sql("UPDATE secrets SET token = $1 WHERE id = $2"))
            .bind(token.to_vec())
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Every (id, token), by id.
    pub async fn all(&self) -> Vec<(i64, Vec<u8>)> {
        sqlx::query("SELECT id, token FROM secrets ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1)))
            .collect()
    }

    pub fn target(&self, name: &str) -> TargetConfig {
        TargetConfig {
            name: name.to_owned(),
            database_url: SecretString::from(self.url.clone()),
            table: "secrets".into(),
            primary_key: "id".into(),
            column: "token".into(),
            encoding: Encoding::Binary,
            key: KEY.into(),
            associated_data_column: Some("owner".into()),
            batch_size: None,
            rate_limit: None,
            parallelism: None,
        }
    }
}

impl Drop for AppDb {
    /// Drops a MariaDB test database (SQLite and PostgreSQL go with the test's environment).
    fn drop(&mut self) {
        let Some((server, database)) = self.mariadb.take() else {
            return;
        };
        // Async work cannot run in `drop`; a thread of its own with its own runtime can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let pool = AnyPool::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the MariaDB test database: {e}");
        }
    }
}

/// A fresh database on the MariaDB suite's server: (the server's URL, the new database's
/// URL). These tests are `#[ignore]`d in a plain `cargo test` and run by the suite with the
/// URL set, where a missing URL is a failure, not a skip.
async fn create_mariadb_database() -> (String, String) {
    let server = std::env::var(MYSQL_URL_VAR).unwrap_or_else(|_| {
        panic!("the MariaDB suite needs {MYSQL_URL_VAR}, e.g. mysql://root@127.0.0.1:3306/test")
    });
    let mut suffix = [0u8; 6];
    rekey::crypto::rng::fill(&mut suffix);
    let name = format!("rk_app_{}", hex::encode(suffix));
    let pool = AnyPool::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("connect to {MYSQL_URL_VAR}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let url = rekey_testkit::with_database(&server, &name);
    (server, url)
}

/// The database named by a `mysql://host/database` URL.
fn database_of(url: &str) -> &str {
    let base = url.split('?').next().unwrap_or(url);
    base.rsplit('/').next().unwrap_or(base)
}

/// Key version in a ciphertext's header.
pub fn version_of(ciphertext: &[u8]) -> u32 {
    rekey::crypto::peek_key_version(ciphertext)
        .expect("a Rekey ciphertext")
        .2
}
