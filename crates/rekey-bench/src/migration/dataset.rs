//! The migration tables: rows generated in memory (each with the value the raw-SQL baseline
//! writes), loaded once into a template table, and copied back before every run so that
//! both sides start from the same table state.

use std::sync::Arc;

use rekey::crypto::{EncryptionKey, KeyMaterial};
use sqlx::postgres::PgPool;
use sqlx::Executor;

/// One migration table: its key, its rows (with the values the baseline writes).
pub struct Dataset {
    pub value_size: usize,
    pub key: &'static str,
    pub legacy: [u8; 32],
    pub table: String,
    pub records: Arc<Vec<Record>>,
}

pub struct Record {
    pub id: i64,
    pub owner: String,
    /// Stored value: a v1 ciphertext under the legacy key.
    pub old: Vec<u8>,
    /// What the raw-SQL baseline writes: a ciphertext of the same plaintext and length.
    pub new: Vec<u8>,
}

fn plaintext(id: i64, size: usize) -> Vec<u8> {
    let mut value = format!("row-{id:010}-").into_bytes();
    value.resize(size, b'.');
    value.truncate(size);
    value
}

fn owner(id: i64) -> String {
    format!("user-{id}")
}

impl Dataset {
    /// `rows` rows of `value_size`-byte plaintexts encrypted as v1 of `key` under `legacy`,
    /// the owner column as associated data.
    pub fn generate(
        value_size: usize,
        key: &'static str,
        legacy: [u8; 32],
        rows: u64,
    ) -> anyhow::Result<Dataset> {
        let v1 = EncryptionKey::new(&KeyMaterial::from_bytes(legacy));
        let other = EncryptionKey::new(&KeyMaterial::generate());
        let mut records = Vec::with_capacity(rows as usize);
        for id in 1..=rows as i64 {
            let plaintext = plaintext(id, value_size);
            let owner = owner(id);
            records.push(Record {
                id,
                old: v1.encrypt(key, 1, &plaintext, owner.as_bytes())?,
                new: other.encrypt(key, 2, &plaintext, owner.as_bytes())?,
                owner,
            });
        }
        Ok(Dataset {
            value_size,
            key,
            legacy,
            table: format!("bench_secrets_{value_size}"),
            records: Arc::new(records),
        })
    }

    /// Creates the table and its template, filled with the v1 rows.
    pub async fn create_tables(&self, pool: &PgPool) -> anyhow::Result<()> {
        for table in [self.table.clone(), format!("{}_template", self.table)] {
            pool.execute(
                format!(
                    "CREATE TABLE \"{table}\" (id BIGINT PRIMARY KEY, token BYTEA, owner TEXT NOT NULL)"
                )
                .as_str(),
            )
            .await?;
        }
        let insert = format!(
            "INSERT INTO \"{}_template\" (id, token, owner) \
             SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::text[])",
            self.table
        );
        for chunk in self.records.chunks(5_000) {
            let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
            let tokens: Vec<&[u8]> = chunk.iter().map(|r| r.old.as_slice()).collect();
            let owners: Vec<&str> = chunk.iter().map(|r| r.owner.as_str()).collect();
            sqlx::query(&insert)
                .bind(ids)
                .bind(tokens)
                .bind(owners)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Puts the table back to the template's v1 rows, freshly vacuumed and checkpointed.
    pub async fn reset(&self, pool: &PgPool) -> anyhow::Result<()> {
        let table = &self.table;
        pool.execute(format!("TRUNCATE \"{table}\"").as_str())
            .await?;
        pool.execute(
            format!(
                "INSERT INTO \"{table}\" (id, token, owner) \
                 SELECT id, token, owner FROM \"{table}_template\" ORDER BY id"
            )
            .as_str(),
        )
        .await?;
        pool.execute(format!("VACUUM ANALYZE \"{table}\"").as_str())
            .await?;
        // Needs superuser (or pg_checkpoint); without it both sides simply skip it.
        let _ = pool.execute("CHECKPOINT").await;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.records.len() as u64
    }
}
