//! [`EventStore`] for the SQL backends, in the SQL dialect SQLite and PostgreSQL share: with
//! `event_inserts.rs` (the event half of a key rotation or rollback), every statement on
//! `rotation_events` and `rotation_event_targets` is in these two files.
//! Every change to an event that a worker may hold is guarded by `lease_owner`, so a replica
//! that lost its lease (it stalled, or the event was superseded or rolled back) stops at its
//! next checkpoint instead of overwriting someone else's progress.

use async_trait::async_trait;
use sqlx::Transaction;

use super::audit::append_in;
use super::event_work::{live_holder, release_partitions, OPEN};
use super::primary::install_primary;
use super::rows::{
    event_record, number, EventRow, PartitionRow, TargetRow, EVENT_COLUMNS, PARTITION_COLUMNS,
};
use super::{begin_write, Backend, SqlStore};
use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::rotation::events::{
    BatchRecord, Claim, EventStatus, EventStore, Grant, PartitionPlan, PassEnd, ResumeError,
    RollbackRefusal, RotationEvent,
};
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

with_sql_bounds! {
    impl<DB: Backend> SqlStore<DB> {
        /// Event `id` as a transaction that found it has just committed it.
        pub(super) async fn committed_event(&self, id: &str) -> StoreResult<RotationEvent> {
            self.get_event(id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("event {id} vanished")))
        }
    }
}

with_sql_bounds! {
    #[async_trait]
    impl<DB: Backend> EventStore for SqlStore<DB> {
        async fn get_event(&self, id: &str) -> StoreResult<Option<RotationEvent>> {
            let mut conn = self.pool().acquire().await?;
            let row: Option<EventRow> = sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM rotation_events WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let targets: Vec<TargetRow> = sqlx::query_as(
                "SELECT target, total, migrated, already_current, skipped, failed, checkpoint, done, \
                 failed_ids FROM rotation_event_targets WHERE event_id = $1 ORDER BY target",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let partitions: Vec<PartitionRow> = sqlx::query_as(&format!(
                "SELECT {PARTITION_COLUMNS} FROM rotation_event_partitions WHERE event_id = $1 \
                 ORDER BY target, idx"
            ))
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            event_record(row, targets, &partitions).map(Some)
        }

        async fn list_events(
            &self,
            key: Option<&str>,
            status: Option<EventStatus>,
            limit: u32,
        ) -> StoreResult<Vec<RotationEvent>> {
            let ids: Vec<(String,)> = sqlx::query_as(
                "SELECT id FROM rotation_events WHERE ($1 IS NULL OR key_name = $1) \
                 AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC, id DESC LIMIT $3",
            )
            .bind(key)
            .bind(status.map(EventStatus::as_str))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
            let mut events = Vec::with_capacity(ids.len());
            for (id,) in ids {
                if let Some(event) = self.get_event(&id).await? {
                    events.push(event);
                }
            }
            Ok(events)
        }

        async fn claim_work(
            &self,
            owner: &str,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<Claim>> {
            self.claim(owner, now, lease_ms).await
        }

        async fn plan_partitions(
            &self,
            event_id: &str,
            owner: &str,
            partitions: &[PartitionPlan],
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<bool> {
            self.write_plan(event_id, owner, partitions, now + lease_ms).await
        }

        async fn record_batch(
            &self,
            event_id: &str,
            owner: &str,
            target: &str,
            index: u32,
            batch: &BatchRecord,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<Grant>> {
            self.record(event_id, owner, (target, index), batch, now, lease_ms)
                .await
        }

        async fn close_pass(
            &self,
            event_id: &str,
            max_passes: u32,
            now: Millis,
        ) -> StoreResult<PassEnd> {
            self.end_pass(event_id, max_passes, now).await
        }

        async fn fail_event(
            &self,
            event_id: &str,
            owner: &str,
            partition: Option<(&str, u32)>,
            error: &str,
            now: Millis,
        ) -> StoreResult<bool> {
            self.fail(event_id, owner, partition, error, now).await
        }

        async fn resume_event(
            &self,
            event_id: &str,
            batch_size: Option<u32>,
            allow_open: bool,
            now: Millis,
            audit: &AuditEntry,
        ) -> StoreResult<Result<RotationEvent, ResumeError>> {
            let mut tx = begin_write(self.pool()).await?;
            let found: Option<(String, String)> =
                sqlx::query_as("SELECT status, key_name FROM rotation_events WHERE id = $1")
                    .bind(event_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((status, key)) = found else {
                return Ok(Err(ResumeError::NotFound));
            };
            let status = EventStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("event {event_id}: status {status:?}")))?;
            let batch_size = batch_size.map(i64::from);
            // An event may only move records to the key's current primary: resuming one that a
            // newer rotation or rollback superseded would move them back to an older version.
            if matches!(
                status,
                EventStatus::Failed | EventStatus::Pending | EventStatus::InProgress
            ) {
                let (target, primary): (i64, i64) = sqlx::query_as(
                    "SELECT CASE WHEN e.rolling_back = 1 THEN e.from_version ELSE e.to_version END, \
                     k.primary_version FROM rotation_events e JOIN keys k ON k.name = e.key_name \
                     WHERE e.id = $1",
                )
                .bind(event_id)
                .fetch_one(&mut *tx)
                .await?;
                if target != primary {
                    return Ok(Err(ResumeError::Superseded {
                        target: number(event_id, "target version", target)?,
                        primary: number(event_id, "primary_version", primary)?,
                    }));
                }
            }
            match status {
                EventStatus::Failed => {
                    if let Some(other) = other_open_event(&mut tx, &key, event_id).await? {
                        return Ok(Err(ResumeError::OtherEventOpen(other)));
                    }
                    sqlx::query(
                        "UPDATE rotation_events SET status = 'pending', lease_owner = NULL, \
                         lease_expires_at = NULL, last_error = NULL, finished_at = NULL, \
                         batch_size = COALESCE($2, batch_size) WHERE id = $1",
                    )
                    .bind(event_id)
                    .bind(batch_size)
                    .execute(&mut *tx)
                    .await?;
                    release_partitions(&mut tx, event_id).await?;
                }
                EventStatus::Pending | EventStatus::InProgress if allow_open => {
                    sqlx::query(
                        "UPDATE rotation_events SET batch_size = COALESCE($2, batch_size) WHERE id = $1",
                    )
                    .bind(event_id)
                    .bind(batch_size)
                    .execute(&mut *tx)
                    .await?;
                }
                // The runbook's "stuck in in_progress: retry": an event whose lease holder
                // stopped renewing (a replica gone) is handed back to the workers at once; a
                // live one is left to its holder.
                EventStatus::InProgress => {
                    if let Some((owner, expires)) = live_holder(&mut tx, event_id, now).await? {
                        return Ok(Err(ResumeError::HeldBy {
                            owner,
                            lease_expires_at: expires,
                        }));
                    }
                    release_partitions(&mut tx, event_id).await?;
                    sqlx::query(
                        "UPDATE rotation_events SET lease_owner = NULL, lease_expires_at = NULL, \
                         batch_size = COALESCE($2, batch_size) WHERE id = $1",
                    )
                    .bind(event_id)
                    .bind(batch_size)
                    .execute(&mut *tx)
                    .await?;
                }
                other => return Ok(Err(ResumeError::WrongStatus(other))),
            }
            let target = event_target_version(&mut tx, event_id).await?;
            let audit = audit.clone().key(key, Some(target)).event(event_id);
            append_in(&mut tx, &audit, now).await?;
            tx.commit().await?;
            Ok(Ok(self.committed_event(event_id).await?))
        }

        async fn rollback_event(
            &self,
            event_id: &str,
            now: Millis,
            audit: &AuditEntry,
        ) -> StoreResult<Result<RotationEvent, RollbackRefusal>> {
            let mut tx = begin_write(self.pool()).await?;
            let row: Option<EventRow> = sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM rotation_events WHERE id = $1"
            ))
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(Err(RollbackRefusal::NotFound));
            };
            let event = event_record(row, Vec::new(), &[])?;
            if event.status == EventStatus::RolledBack {
                return Ok(Err(RollbackRefusal::AlreadyRolledBack));
            }
            if event.rolling_back {
                return Ok(Err(RollbackRefusal::AlreadyRollingBack));
            }
            let primary: i64 = sqlx::query_scalar(DB::LOCK_KEY)
                .bind(event.key_name.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::KeyNotFound(event.key_name.clone()))?;
            if primary != i64::from(event.to_version) {
                return Ok(Err(RollbackRefusal::KeyMovedOn {
                    primary: number(&event.id, "primary_version", primary)?,
                }));
            }
            let from_state: Option<(String,)> =
                sqlx::query_as("SELECT state FROM key_versions WHERE key_name = $1 AND version = $2")
                    .bind(event.key_name.as_str())
                    .bind(i64::from(event.from_version))
                    .fetch_optional(&mut *tx)
                    .await?;
            if !matches!(from_state, Some((ref s,)) if s == "deprecated") {
                return Ok(Err(RollbackRefusal::FromVersionRetired));
            }
            install_primary(
                &mut tx,
                &event.key_name,
                Some(primary),
                event.from_version,
                None,
                now,
            )
            .await?;
            sqlx::query(&format!(
                "UPDATE rotation_event_partitions SET lease_owner = NULL, lease_expires_at = NULL \
                 WHERE event_id IN (SELECT id FROM rotation_events \
                                    WHERE key_name = $1 AND id <> $2 AND status IN {OPEN})"
            ))
            .bind(event.key_name.as_str())
            .bind(event_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE rotation_events SET status = 'failed', finished_at = $3, lease_owner = NULL, \
                 lease_expires_at = NULL, last_error = 'superseded by the rollback of event ' || $2 \
                 WHERE key_name = $1 AND id <> $2 AND status IN {OPEN}"
            ))
            .bind(event.key_name.as_str())
            .bind(event_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            reopen_rolling_back(&mut tx, event_id).await?;
            let audit = audit
                .clone()
                .key(event.key_name.as_str(), Some(event.from_version))
                .event(event_id);
            append_in(&mut tx, &audit, now).await?;
            tx.commit().await?;
            Ok(Ok(self.committed_event(event_id).await?))
        }
    }
}

with_sql_bounds! {
    /// Makes event `event_id` pending again, rolling back, with fresh progress on every target
    /// (the caller commits). Its start is cleared too: the worker that takes up the migration
    /// back sets it, so the event's duration is the rollback's own, not the original
    /// migration's plus the time in between.
    async fn reopen_rolling_back<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        event_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE rotation_events SET status = 'pending', rolling_back = 1, lease_owner = NULL, \
             lease_expires_at = NULL, started_at = NULL, finished_at = NULL, last_error = NULL, \
             pass = 1, active_millis = 0 WHERE id = $1",
        )
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE rotation_event_targets SET total = 0, migrated = 0, already_current = 0, \
             skipped = 0, failed = 0, checkpoint = NULL, done = 0, failed_ids = '' \
             WHERE event_id = $1",
        )
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
        // The partitions are kept (the table is the same) and start again.
        sqlx::query(
            "UPDATE rotation_event_partitions SET total = 0, migrated = 0, already_current = 0, \
             skipped = 0, failed = 0, pass_skipped = 0, checkpoint = NULL, done = 0, \
             failed_ids = '', active_millis = 0, lease_owner = NULL, lease_expires_at = NULL \
             WHERE event_id = $1",
        )
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

with_sql_bounds! {
    /// The version event `event_id` migrates records to now (its from-version while rolling back).
    async fn event_target_version<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        event_id: &str,
    ) -> StoreResult<u32> {
        let target: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN rolling_back = 1 THEN from_version ELSE to_version END \
             FROM rotation_events WHERE id = $1",
        )
        .bind(event_id)
        .fetch_one(&mut **tx)
        .await?;
        number(event_id, "target version", target)
    }
}

with_sql_bounds! {
    async fn other_open_event<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        key: &str,
        event_id: &str,
    ) -> StoreResult<Option<String>> {
        let other: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM rotation_events WHERE key_name = $1 AND id <> $2 AND status IN {OPEN}"
        ))
        .bind(key)
        .bind(event_id)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(other.map(|(id,)| id))
    }
}
