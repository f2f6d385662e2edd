//! Fresh PostgreSQL databases for the integration tests and the benchmark harness.
//!
//! Tests that need PostgreSQL run when `REKEY_TEST_DATABASE_URL` names a server and a
//! database that the user may connect to and create databases from, e.g.
//! `postgres://root@127.0.0.1:5432/test`.

use sqlx::{Connection, Executor, PgConnection};

use crate::with_database;

/// The environment variable naming the PostgreSQL server the tests may use.
pub const DATABASE_URL_VAR: &str = "REKEY_TEST_DATABASE_URL";

/// The admin URL from `REKEY_TEST_DATABASE_URL`, if set and not empty.
pub fn test_database_url() -> Option<String> {
    std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A database created for one test; remove it with [`TestDatabase::drop`].
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the new database (the admin URL with its database name replaced).
    pub url: String,
    pub name: String,
    admin_url: String,
}

/// Creates an empty database `rekey_t_<random hex>` on the server of `admin_url`.
pub async fn fresh_database(admin_url: &str) -> TestDatabase {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to {DATABASE_URL_VAR}: {e}"));
    let database = create_database(&mut admin, admin_url, "rekey_t_")
        .await
        .unwrap_or_else(|e| panic!("create a test database: {e}"));
    let _ = admin.close().await;
    database
}

/// Creates an empty database `<prefix><random hex>` through `admin`, a connection to
/// `admin_url` (the benchmark harness uses this too, with its own error reporting).
pub async fn create_database(
    admin: &mut PgConnection,
    admin_url: &str,
    prefix: &str,
) -> Result<TestDatabase, sqlx::Error> {
    let mut random = [0u8; 8];
    rekey_envelope::rng::fill(&mut random);
    let name = format!("{prefix}{}", hex::encode(random));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    Ok(TestDatabase {
        url: with_database(admin_url, &name),
        name,
        admin_url: admin_url.to_owned(),
    })
}

impl TestDatabase {
    /// Drops the database, ending any connection still open to it. Failures are reported
    /// on stderr, not raised, so that they never hide the test's own outcome.
    pub async fn drop(self) {
        let dropped = async {
            let mut admin = PgConnection::connect(&self.admin_url).await?;
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            admin.execute(sql.as_str()).await?;
            admin.close().await
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}
