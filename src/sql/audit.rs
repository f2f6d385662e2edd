//! [`AuditStore`] for the SQL backends, in the SQL dialect SQLite and PostgreSQL share.
//!
//! Appends serialize on the one-row `audit_head` table (the newest row's `seq` and hash): an
//! append's first statement is `UPDATE audit_head … RETURNING`, inside a write transaction
//! that also inserts the row and records its hash as the new head. On PostgreSQL the update
//! holds the head's row lock until commit, and a waiting append re-reads the committed head;
//! on SQLite the write transaction (`BEGIN IMMEDIATE`) holds the database write lock. Either
//! way, appends from any number of processes form one chain without gaps.
//!
//! A change that must not happen unaudited (a rotation, a token…) appends its row with
//! [`append_in`] inside its own transaction: the row and the change commit together or not
//! at all.

use async_trait::async_trait;
use sqlx::{FromRow, Transaction};

use super::{begin_write, Backend, SqlStore};
use crate::audit::{
    record_hash, AuditEntry, AuditFilter, AuditRecord, AuditStore, ChainVerifier, Outcome,
    VerifyReport,
};
use crate::clock::Millis;
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

#[derive(Debug, FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: i64,
    principal: String,
    operation: String,
    key_name: Option<String>,
    key_version: Option<i64>,
    outcome: String,
    records: Option<i64>,
    detail: String,
    request_id: Option<String>,
    prev_hash: String,
    hash: String,
    event_id: Option<String>,
}

const COLUMNS: &str = "seq, at, principal, operation, key_name, key_version, outcome, records, \
    detail, request_id, prev_hash, hash, event_id";

/// Rows read per query while verifying.
const VERIFY_PAGE: i64 = 500;

const HEAD_MISSING: &str = "the audit log's head row (audit_head) is missing";

/// The record of a row, or why it is not one a store could have written.
fn audit_record(row: AuditRow) -> Result<AuditRecord, (i64, String, String)> {
    let seq = row.seq;
    let problem = |what: String| (seq, row.hash.clone(), what);
    let outcome = Outcome::parse(&row.outcome)
        .ok_or_else(|| problem(format!("unknown outcome {:?}", row.outcome)))?;
    let key_version = row
        .key_version
        .map(u32::try_from)
        .transpose()
        .map_err(|_| problem(format!("key version {:?} out of range", row.key_version)))?;
    let records = row
        .records
        .map(u64::try_from)
        .transpose()
        .map_err(|_| problem(format!("record count {:?} out of range", row.records)))?;
    Ok(AuditRecord {
        seq,
        at: row.at,
        entry: AuditEntry {
            principal: row.principal,
            operation: row.operation,
            key_name: row.key_name,
            key_version,
            outcome,
            records,
            detail: row.detail,
            request_id: row.request_id,
            event_id: row.event_id,
        },
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}

with_sql_bounds! {
    /// Appends `entry` (in its [`AuditEntry::storable`] form) recorded at `at` inside the
    /// caller's write transaction, which commits it with the change it records. Call it last
    /// in the transaction: the head's row lock is then held only until the commit, and is
    /// always taken after any key-row lock, so appends and key changes cannot deadlock.
    /// A failure is [`StoreError::AuditWrite`]; the caller's transaction must then be dropped.
    pub(super) async fn append_in<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        entry: &AuditEntry,
        at: Millis,
    ) -> StoreResult<AuditRecord> {
        let entry = entry.storable();
        let records = entry.records.map(i64::try_from).transpose().map_err(|_| {
            StoreError::Corrupt(format!(
                "audit entry {}: record count {:?} exceeds the storable range",
                entry.operation, entry.records
            ))
        })?;
        let head: Option<(i64, String)> =
            sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::AuditWrite)?;
        let (seq, prev_hash) = head.ok_or_else(|| StoreError::Corrupt(HEAD_MISSING.into()))?;
        let hash = record_hash(seq, at, &entry, &prev_hash);
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(seq)
        .bind(at)
        .bind(entry.principal.as_str())
        .bind(entry.operation.as_str())
        .bind(entry.key_name.as_deref())
        .bind(entry.key_version.map(i64::from))
        .bind(entry.outcome.as_str())
        .bind(records)
        .bind(entry.detail.as_str())
        .bind(entry.request_id.as_deref())
        .bind(prev_hash.as_str())
        .bind(hash.as_str())
        .bind(entry.event_id.as_deref())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::AuditWrite)?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(hash.as_str())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::AuditWrite)?;
        Ok(AuditRecord {
            seq,
            at,
            entry,
            prev_hash,
            hash,
        })
    }
}

with_sql_bounds! {
    #[async_trait]
    impl<DB: Backend> AuditStore for SqlStore<DB> {
        async fn append(&self, entry: &AuditEntry, at: Millis) -> StoreResult<AuditRecord> {
            let mut tx = begin_write(self.pool()).await.map_err(StoreError::AuditWrite)?;
            let record = append_in(&mut tx, entry, at).await?;
            tx.commit().await.map_err(StoreError::AuditWrite)?;
            Ok(record)
        }

        async fn list(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
            // Only the conditions that are set go into the statement, so each can use its index.
            let mut conditions = Vec::new();
            let mut condition = |clause: &str| {
                conditions.push(format!("{clause} ${}", conditions.len() + 1));
            };
            let AuditFilter {
                from,
                to,
                key_name,
                principal,
                operation,
                limit: _,
                after_seq,
            } = filter;
            if from.is_some() {
                condition("at >=");
            }
            if to.is_some() {
                condition("at <");
            }
            if key_name.is_some() {
                condition("key_name =");
            }
            if principal.is_some() {
                condition("principal =");
            }
            if operation.is_some() {
                condition("operation =");
            }
            if after_seq.is_some() {
                condition("seq >");
            }
            let mut sql = format!("SELECT {COLUMNS} FROM audit_log");
            if !conditions.is_empty() {
                sql.push_str(" WHERE ");
                sql.push_str(&conditions.join(" AND "));
            }
            sql.push_str(&format!(" ORDER BY seq LIMIT ${}", conditions.len() + 1));

            let mut query = sqlx::query_as::<DB, AuditRow>(&sql);
            for value in [from, to].into_iter().flatten() {
                query = query.bind(*value);
            }
            for value in [key_name, principal, operation].into_iter().flatten() {
                query = query.bind(value.as_str());
            }
            if let Some(after_seq) = after_seq {
                query = query.bind(*after_seq);
            }
            let rows = query
                .bind(i64::from(filter.effective_limit()))
                .fetch_all(self.pool())
                .await?;
            rows.into_iter()
                .map(|row| {
                    audit_record(row).map_err(|(seq, _, problem)| {
                        StoreError::Corrupt(format!("audit row {seq}: {problem}"))
                    })
                })
                .collect()
        }

        async fn verify(&self) -> StoreResult<VerifyReport> {
            // Rows up to the head read now: appends committed meanwhile come after it.
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_optional(self.pool())
                    .await?;
            let (head_seq, head_hash) = head.ok_or_else(|| StoreError::Corrupt(HEAD_MISSING.into()))?;
            let page_sql = format!(
                "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
            );
            let mut verifier = ChainVerifier::new();
            let mut after = i64::MIN;
            loop {
                let rows: Vec<AuditRow> = sqlx::query_as(&page_sql)
                    .bind(after)
                    .bind(head_seq)
                    .bind(VERIFY_PAGE)
                    .fetch_all(self.pool())
                    .await?;
                let full_page = rows.len() as i64 == VERIFY_PAGE;
                for row in rows {
                    after = row.seq;
                    match audit_record(row) {
                        Ok(record) => verifier.push(record),
                        // Not something an append writes: edited (bypassing the CHECKs).
                        Err((seq, hash, _)) => verifier.push_unreadable(seq, hash),
                    }
                }
                if !full_page {
                    break;
                }
            }
            let report = verifier.finish_at_head(head_seq, &head_hash);
            tracing::debug!(
                backend = DB::BACKEND,
                rows = report.rows,
                fault = ?report.first_fault,
                "verified the audit log"
            );
            Ok(report)
        }
    }
}
