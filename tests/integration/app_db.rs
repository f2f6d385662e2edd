//! A stand-in for an application database holding Rekey ciphertexts: a table `secrets`
//! (id, token = ciphertext, owner = associated data) on SQLite or PostgreSQL.

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

pub struct AppDb {
    pub url: String,
    pub pool: AnyPool,
}

impl AppDb {
    /// Creates `secrets` with `rows` rows encrypted under TOKEN_ENCRYPTION v1 (legacy key).
    pub async fn create(env: &TestEnv, backend: Backend, rows: i64) -> Self {
        sqlx::any::install_default_drivers();
        let (url, connect_url) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", env.dir().join("app.db").display());
                let connect = format!("{url}?mode=rwc");
                (url, connect)
            }
            Backend::Postgres => {
                let url = env.database_url().expect("postgres url");
                (url.clone(), url)
            }
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(4)
            .connect(&connect_url)
            .await
            .unwrap();
        let blob = match backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        sqlx::query(&format!(
            "CREATE TABLE secrets (id BIGINT PRIMARY KEY, token {blob}, owner TEXT NOT NULL)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        let db = Self { url, pool };
        db.insert_v1(1, rows).await;
        db
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
        sqlx::query("INSERT INTO secrets (id, token, owner) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(token.to_vec())
            .bind(owner(id))
            .execute(&mut **tx)
            .await
            .unwrap();
    }

    pub async fn set(&self, id: i64, token: &[u8]) {
        sqlx::query("UPDATE secrets SET token = $2 WHERE id = $1")
            .bind(id)
            .bind(token.to_vec())
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
        }
    }
}

/// Key version in a ciphertext's header.
pub fn version_of(ciphertext: &[u8]) -> u32 {
    rekey::crypto::peek_key_version(ciphertext)
        .expect("a Rekey ciphertext")
        .2
}
