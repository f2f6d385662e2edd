//! The migration worker's statements on events: claiming work (a partition, an event to cut
//! into partitions, or one to close), writing partitions, recording batches, ending passes
//! and failing an event. Every write a worker makes is guarded by its lease on the partition
//! (or, while it cuts the event into partitions, on the event), so a replica that lost it
//! stops at its next checkpoint instead of overwriting another's progress; whatever moves an
//! event out of in_progress releases every lease with it ([`release_partitions`]).
//!
//! Claims are one conditional UPDATE each: on PostgreSQL a replica that waited for another's
//! claim of the same row re-checks the conditions against the claimed row and claims nothing.

use sqlx::Transaction;

use super::rows::{append_failed_ids, number};
use super::{begin_write, Backend, SqlStore};
use crate::clock::Millis;
use crate::rotation::events::{BatchRecord, Claim, EventStatus, Grant, PartitionPlan, PassEnd};
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

/// The statuses of an event a worker may work.
pub(super) const OPEN: &str = "('pending', 'in_progress')";

with_sql_bounds! {
    impl<DB: Backend> SqlStore<DB> {
        pub(super) async fn claim(
            &self,
            owner: &str,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<Claim>> {
            if let Some((event_id, target, index)) =
                self.claim_partition(owner, now, lease_ms).await?
            {
                let index = number(&event_id, "partition index", index)?;
                let event = self.committed_event(&event_id).await?;
                return Ok(Some(Claim::Partition { event, target, index }));
            }
            if let Some(event_id) = self.claim_unplanned(owner, now, lease_ms).await? {
                return Ok(Some(Claim::Plan(self.committed_event(&event_id).await?)));
            }
            let unclosed: Option<String> = sqlx::query_scalar(&format!(
                "SELECT e.id FROM rotation_events e WHERE e.status IN {OPEN} \
                 AND EXISTS (SELECT 1 FROM rotation_event_partitions p WHERE p.event_id = e.id) \
                 AND NOT EXISTS (SELECT 1 FROM rotation_event_partitions p \
                                 WHERE p.event_id = e.id AND p.done = 0) \
                 ORDER BY e.created_at LIMIT 1"
            ))
            .fetch_optional(self.pool())
            .await?;
            match unclosed {
                Some(event_id) => Ok(Some(Claim::Close(self.committed_event(&event_id).await?))),
                None => Ok(None),
            }
        }

        /// The first free (or expired) partition of the oldest open event, partitions of
        /// one target interleaved with the next's; its event becomes in_progress.
        async fn claim_partition(
            &self,
            owner: &str,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<(String, String, i64)>> {
            let mut tx = begin_write(self.pool()).await?;
            let free = |p: &str| {
                format!("{p}done = 0 AND ({p}lease_owner IS NULL OR {p}lease_expires_at < $3)")
            };
            let claimed: Option<(String, String, i64)> = sqlx::query_as(&format!(
                "UPDATE rotation_event_partitions SET lease_owner = $1, lease_expires_at = $2 \
                 WHERE (event_id, target, idx) = \
                   (SELECT p.event_id, p.target, p.idx FROM rotation_event_partitions p \
                    JOIN rotation_events e ON e.id = p.event_id \
                    WHERE e.status IN {OPEN} AND {} \
                    ORDER BY e.created_at, p.idx, p.target LIMIT 1{}) \
                 AND {} RETURNING event_id, target, idx",
                free("p."),
                DB::SKIP_CLAIMED,
                free("")
            ))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(claimed) = claimed else {
                return Ok(None);
            };
            sqlx::query(&format!(
                "UPDATE rotation_events SET status = 'in_progress', \
                 started_at = COALESCE(started_at, $2) WHERE id = $1 AND status IN {OPEN}"
            ))
            .bind(claimed.0.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(claimed))
        }

        /// The oldest open event without partitions whose own lease is free or expired.
        async fn claim_unplanned(
            &self,
            owner: &str,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<String>> {
            let claimable = |e: &str| {
                format!(
                    "{e}status IN {OPEN} AND ({e}lease_owner IS NULL OR {e}lease_expires_at < $3) \
                     AND NOT EXISTS (SELECT 1 FROM rotation_event_partitions p \
                                     WHERE p.event_id = {e}id)"
                )
            };
            let claimed: Option<String> = sqlx::query_scalar(&format!(
                "UPDATE rotation_events SET status = 'in_progress', lease_owner = $1, \
                 lease_expires_at = $2, started_at = COALESCE(started_at, $3) \
                 WHERE id = (SELECT e.id FROM rotation_events e WHERE {} \
                             ORDER BY e.created_at LIMIT 1) \
                 AND {} RETURNING id",
                claimable("e."),
                claimable("rotation_events.")
            ))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            Ok(claimed)
        }

        pub(super) async fn write_plan(
            &self,
            event_id: &str,
            owner: &str,
            partitions: &[PartitionPlan],
            lease_expires_at: Millis,
        ) -> StoreResult<bool> {
            let mut tx = begin_write(self.pool()).await?;
            let held = sqlx::query(
                "UPDATE rotation_events SET lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress' \
                 AND NOT EXISTS (SELECT 1 FROM rotation_event_partitions WHERE event_id = $1)",
            )
            .bind(event_id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
            if DB::rows_affected(&held) == 0 {
                return Ok(false);
            }
            // The first partition not done stays the planner's: no moment without a holder.
            let first = partitions.iter().position(|p| !p.done);
            for (i, p) in partitions.iter().enumerate() {
                let (holder, expires) = match first == Some(i) {
                    true => (Some(owner), Some(lease_expires_at)),
                    false => (None, None),
                };
                sqlx::query(
                    "INSERT INTO rotation_event_partitions \
                     (event_id, target, idx, lower_bound, upper_bound, checkpoint, done, \
                      lease_owner, lease_expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(event_id)
                .bind(p.target.as_str())
                .bind(i64::from(p.index))
                .bind(p.lower.as_deref())
                .bind(p.upper.as_deref())
                .bind(p.checkpoint.as_deref())
                .bind(i64::from(p.done))
                .bind(holder)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        }

        pub(super) async fn record(
            &self,
            event_id: &str,
            owner: &str,
            (target, index): (&str, u32),
            batch: &BatchRecord,
            now: Millis,
            lease_ms: i64,
        ) -> StoreResult<Option<Grant>> {
            let mut tx = begin_write(self.pool()).await?;
            let failed_ids = if batch.failed_ids.is_empty() {
                None
            } else {
                let stored: Option<String> = sqlx::query_scalar(
                    "SELECT failed_ids FROM rotation_event_partitions \
                     WHERE event_id = $1 AND target = $2 AND idx = $3 AND lease_owner = $4",
                )
                .bind(event_id)
                .bind(target)
                .bind(i64::from(index))
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(stored) = stored else {
                    return Ok(None);
                };
                Some(append_failed_ids(&stored, &batch.failed_ids))
            };
            let c = batch.counts;
            let held = sqlx::query(
                "UPDATE rotation_event_partitions SET lease_expires_at = $5, checkpoint = $6, \
                 done = $7, total = total + $8, migrated = migrated + $9, \
                 already_current = already_current + $10, skipped = skipped + $11, \
                 pass_skipped = pass_skipped + $11, failed = failed + $12, \
                 active_millis = active_millis + $13, failed_ids = COALESCE($14, failed_ids) \
                 WHERE event_id = $1 AND target = $2 AND idx = $3 AND lease_owner = $4",
            )
            .bind(event_id)
            .bind(target)
            .bind(i64::from(index))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(batch.checkpoint.as_deref())
            .bind(i64::from(batch.done))
            .bind(c.total as i64)
            .bind(c.migrated as i64)
            .bind(c.already_current as i64)
            .bind(c.skipped as i64)
            .bind(c.failed as i64)
            .bind(batch.elapsed_ms.max(0))
            .bind(failed_ids.as_deref())
            .execute(&mut *tx)
            .await?;
            if DB::rows_affected(&held) == 0 {
                return Ok(None);
            }
            // What the worker goes on with: the event's batch size (ExecuteEvent may change
            // it) and the partitions being worked, which share its rate limit.
            let (batch_size, live): (i64, i64) = sqlx::query_as(
                "SELECT batch_size, (SELECT COUNT(*) FROM rotation_event_partitions \
                 WHERE event_id = $1 AND done = 0 AND lease_expires_at > $2) \
                 FROM rotation_events WHERE id = $1",
            )
            .bind(event_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(Grant {
                batch_size: u32::try_from(batch_size).unwrap_or(u32::MAX),
                live_partitions: u32::try_from(live).unwrap_or(u32::MAX),
            }))
        }

        pub(super) async fn end_pass(
            &self,
            event_id: &str,
            max_passes: u32,
            now: Millis,
        ) -> StoreResult<PassEnd> {
            let mut tx = begin_write(self.pool()).await?;
            let pass: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT pass FROM rotation_events WHERE id = $1 AND status IN {OPEN}"
            ))
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(pass) = pass else {
                return Ok(PassEnd::Open);
            };
            let (undone, skipped): (i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(1 - done), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(pass_skipped), 0) AS BIGINT) \
                 FROM rotation_event_partitions WHERE event_id = $1",
            )
            .bind(event_id)
            .fetch_one(&mut *tx)
            .await?;
            if undone > 0 {
                return Ok(PassEnd::Open);
            }
            if skipped > 0 && pass < i64::from(max_passes) {
                let next = sqlx::query(&format!(
                    "UPDATE rotation_events SET pass = pass + 1 \
                     WHERE id = $1 AND pass = $2 AND status IN {OPEN}"
                ))
                .bind(event_id)
                .bind(pass)
                .execute(&mut *tx)
                .await?;
                if DB::rows_affected(&next) == 0 {
                    return Ok(PassEnd::Open);
                }
                sqlx::query(
                    "UPDATE rotation_event_partitions SET checkpoint = NULL, done = 0, \
                     pass_skipped = 0, lease_owner = NULL, lease_expires_at = NULL \
                     WHERE event_id = $1",
                )
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(PassEnd::NextPass);
            }
            let status: Option<String> = sqlx::query_scalar(&format!(
                "UPDATE rotation_events SET \
                 status = CASE WHEN rolling_back = 1 THEN 'rolled_back' ELSE 'completed' END, \
                 rolling_back = 0, finished_at = $3, lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND pass = $2 AND status IN {OPEN} RETURNING status"
            ))
            .bind(event_id)
            .bind(pass)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(status) = status else {
                return Ok(PassEnd::Open);
            };
            let status = EventStatus::parse(&status).ok_or_else(|| {
                StoreError::Corrupt(format!("event {event_id}: status {status:?}"))
            })?;
            release_partitions(&mut tx, event_id).await?;
            tx.commit().await?;
            Ok(PassEnd::Finished(status))
        }

        pub(super) async fn fail(
            &self,
            event_id: &str,
            owner: &str,
            partition: Option<(&str, u32)>,
            error: &str,
            now: Millis,
        ) -> StoreResult<bool> {
            let mut tx = begin_write(self.pool()).await?;
            let set = "UPDATE rotation_events SET status = 'failed', last_error = $3, \
                       finished_at = $4, lease_owner = NULL, lease_expires_at = NULL \
                       WHERE id = $1 AND status = 'in_progress'";
            let failed = match partition {
                Some((target, index)) => sqlx::query(&format!(
                    "{set} AND EXISTS (SELECT 1 FROM rotation_event_partitions WHERE \
                     event_id = $1 AND target = $5 AND idx = $6 AND lease_owner = $2)"
                ))
                .bind(event_id)
                .bind(owner)
                .bind(error)
                .bind(now)
                .bind(target)
                .bind(i64::from(index))
                .execute(&mut *tx)
                .await?,
                None => sqlx::query(&format!("{set} AND lease_owner = $2"))
                    .bind(event_id)
                    .bind(owner)
                    .bind(error)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?,
            };
            if DB::rows_affected(&failed) == 0 {
                return Ok(false);
            }
            release_partitions(&mut tx, event_id).await?;
            tx.commit().await?;
            Ok(true)
        }
    }
}

with_sql_bounds! {
    /// Releases every lease on the partitions of event `event_id` (the caller commits): done
    /// when the event leaves in_progress, so that the holders' next record finds it gone.
    pub(super) async fn release_partitions<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        event_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE rotation_event_partitions SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE event_id = $1",
        )
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

with_sql_bounds! {
    /// Whoever holds a live lease on event `event_id` at `now` (its own, or an unfinished
    /// partition's), the one holding it longest, and until when.
    pub(super) async fn live_holder<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        event_id: &str,
        now: Millis,
    ) -> StoreResult<Option<(String, Millis)>> {
        let holder: Option<(String, i64)> = sqlx::query_as(
            "SELECT lease_owner, lease_expires_at FROM rotation_events \
             WHERE id = $1 AND lease_owner IS NOT NULL AND lease_expires_at > $2 \
             UNION ALL \
             SELECT lease_owner, lease_expires_at FROM rotation_event_partitions \
             WHERE event_id = $1 AND done = 0 AND lease_owner IS NOT NULL AND lease_expires_at > $2 \
             ORDER BY 2 DESC LIMIT 1",
        )
        .bind(event_id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(holder)
    }
}
