//! The raw-SQL baseline on MariaDB: the MySQL adapter's statements (src/rotation/targets/
//! sql.rs and mysql.rs, for a BIGINT key, a binary column and an associated-data column,
//! after `Backend::dialect`), driven by hand, single stream, with values computed
//! beforehand, so that it pays for the database work and nothing else:
//!
//! - the keyset-paged SELECT, the associated data read as `CAST(CAST(owner AS CHAR) AS
//!   BINARY)` as the adapter reads it (and not used);
//! - the compare-and-swap as the adapter writes it on MySQL: one transaction per batch of
//!   per-row `UPDATE … SET token = ? WHERE id = ? AND CAST(token AS BINARY) = ?`, a row
//!   counting as written when MariaDB reports it changed.

use sqlx::mysql::MySqlPool;
use sqlx::Row;

use super::dataset::Dataset;

/// The keyset-paged SELECT and the compare-and-swap UPDATE of one table, in MySQL's dialect.
struct Statements {
    fetch_first: String,
    fetch_after: String,
    compare_and_swap: String,
}

impl Statements {
    fn new(table: &str) -> Self {
        let select = format!(
            "SELECT CAST(`id` AS SIGNED), `token`, CAST(CAST(`owner` AS CHAR) AS BINARY) \
             FROM `{table}` WHERE `token` IS NOT NULL AND `id` IS NOT NULL"
        );
        Self {
            fetch_first: format!("{select} ORDER BY `id` LIMIT ?"),
            fetch_after: format!("{select} AND `id` > ? ORDER BY `id` LIMIT ?"),
            compare_and_swap: format!(
                "UPDATE `{table}` SET `token` = ? WHERE `id` = ? AND CAST(`token` AS BINARY) = ?"
            ),
        }
    }
}

/// Re-encrypts the whole table batch by batch, one statement at a time; the rows written.
pub async fn migrate(
    pool: &MySqlPool,
    table: &str,
    data: &Dataset,
    batch_size: u32,
) -> anyhow::Result<u64> {
    let statements = Statements::new(table);
    let mut after: Option<i64> = None;
    let mut written = 0u64;
    loop {
        let read = fetch_batch(pool, &statements, after, batch_size).await?;
        let Some(&(last, _)) = read.last() else {
            return Ok(written);
        };
        let mut tx = pool.begin().await?;
        for (id, old) in &read {
            let new = data.records[(*id - 1) as usize].new.as_slice();
            let changed = sqlx::query(&statements.compare_and_swap)
                .bind(new)
                .bind(*id)
                .bind(old.as_slice())
                .execute(&mut *tx)
                .await?;
            if changed.rows_affected() > 0 {
                written += 1;
            }
        }
        tx.commit().await?;
        after = Some(last);
    }
}

/// The next batch after primary key `after`: (id, stored value) of each row.
async fn fetch_batch(
    pool: &MySqlPool,
    statements: &Statements,
    after: Option<i64>,
    batch_size: u32,
) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
    let query = match after {
        None => sqlx::query(&statements.fetch_first),
        Some(after) => sqlx::query(&statements.fetch_after).bind(after),
    };
    let rows = query.bind(i64::from(batch_size)).fetch_all(pool).await?;
    let mut read = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let stored: Vec<u8> = row.try_get(1)?;
        let _associated_data: Option<Vec<u8>> = row.try_get(2)?;
        read.push((id, stored));
    }
    Ok(read)
}
