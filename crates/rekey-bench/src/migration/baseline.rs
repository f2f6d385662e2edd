//! The raw-SQL baseline: the adapter's statements (src/rotation/targets/sql.rs and
//! postgres.rs for a BIGINT key, binary column and an associated-data column), driven by
//! hand with values computed beforehand, so that it pays for the database work and nothing
//! else.

use sqlx::postgres::PgPool;
use sqlx::Row;

use super::dataset::Dataset;

/// The keyset-paged SELECT and the compare-and-swap UPDATE of one table.
struct Statements {
    fetch_first: String,
    fetch_after: String,
    compare_and_swap: String,
}

impl Statements {
    fn new(table: &str) -> Self {
        let select = format!(
            "SELECT CAST(\"id\" AS BIGINT), \"token\", convert_to(CAST(\"owner\" AS TEXT), 'UTF8') \
             FROM \"{table}\" WHERE \"token\" IS NOT NULL AND \"id\" IS NOT NULL"
        );
        Self {
            fetch_first: format!("{select} ORDER BY \"id\" LIMIT $1"),
            fetch_after: format!("{select} AND \"id\" > $1 ORDER BY \"id\" LIMIT $2"),
            compare_and_swap: format!(
                "UPDATE \"{table}\" AS t SET \"token\" = u.new \
                 FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS u(pk, old, new) \
                 WHERE t.\"id\" = CAST(u.pk AS BIGINT) AND t.\"token\" = u.old \
                 RETURNING CAST(t.\"id\" AS BIGINT)"
            ),
        }
    }
}

/// Re-encrypts the whole table batch by batch, one statement at a time; the rows written.
pub async fn migrate(pool: &PgPool, data: &Dataset, batch_size: u32) -> anyhow::Result<u64> {
    let statements = Statements::new(&data.table);
    let mut after: Option<i64> = None;
    let mut written = 0u64;
    loop {
        let read = fetch_batch(pool, &statements, after, batch_size).await?;
        if read.is_empty() {
            return Ok(written);
        }
        let pks: Vec<String> = read.iter().map(|(id, _)| id.to_string()).collect();
        let old: Vec<&[u8]> = read.iter().map(|(_, stored)| stored.as_slice()).collect();
        let new: Vec<&[u8]> = read
            .iter()
            .map(|(id, _)| data.records[(*id - 1) as usize].new.as_slice())
            .collect();
        let changed = sqlx::query(&statements.compare_and_swap)
            .bind(pks)
            .bind(old)
            .bind(new)
            .fetch_all(pool)
            .await?;
        written += changed.len() as u64;
        after = read.last().map(|(id, _)| *id);
    }
}

/// The next batch after primary key `after`: (id, stored value) of each row. The
/// associated data is read, as the adapter reads it, and not used.
async fn fetch_batch(
    pool: &PgPool,
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
