//! The migration worker. Each replica runs one; it claims open events through a lease in the
//! keystore database (a dead holder's lease expires and is taken over), and works a claimed
//! event target by target, batch by batch:
//!
//! 1. read the next batch by keyset pagination after the checkpoint (steps 2 and 3 of a batch
//!    overlap: the previous batch is written while the next is re-encrypted);
//! 2. per row, read the header: rows already on the target version are left alone; rows that
//!    are not a ciphertext of the key, or fail authentication, are counted failed and never
//!    written; the rest are decrypted and encrypted again under the target version in process;
//! 3. write them back with one compare-and-swap statement, so a row the application changed
//!    in between keeps the application's value (counted skipped, picked up by another pass);
//! 4. record counts and the checkpoint, renewing the lease.
//!
//! A crash anywhere repeats at most one batch on resume: rows it already moved are then seen
//! as current, and a value is never encrypted twice because only decrypted plaintext is
//! encrypted. A graceful stop (shutdown) repeats nothing: it comes between two batches, after
//! the last one read is written and checkpointed, and releases the lease so that another
//! replica, or the next start, resumes right after it.

mod batch;
mod pacing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::audit::{AuditEntry, AuditOperation, Auditor, Outcome as AuditOutcome};
use crate::keystore::{KeyError, KeyManager};
use crate::rotation::events::{
    BatchRecord, EventStatus, EventStore, RotationEvent, TargetProgress,
};
use crate::rotation::targets::{PkValue, Row, Target, Update};
use crate::telemetry::Metrics;

use batch::Prepared;
use pacing::RateSeries;

/// The lease a stopping worker leaves behind: already expired, so that another replica (or
/// this one, restarted) claims the event at once and resumes from the checkpoint just written.
const RELEASED_LEASE_MS: i64 = -1;

/// What the migration worker works with.
#[derive(Debug, Clone)]
pub(crate) struct WorkerDeps {
    pub(crate) events: Arc<dyn EventStore>,
    /// Tells the time, checks the event's key and re-encrypts.
    pub(crate) keys: Arc<KeyManager>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) metrics: Arc<Metrics>,
    /// The migration targets configured on this server.
    pub(crate) targets: Vec<Arc<Target>>,
    /// How long a claimed event stays this worker's without a recorded batch.
    pub(crate) lease_ms: i64,
    /// Passes over the targets per event at most.
    pub(crate) max_passes: u32,
    /// Notified when an event is created or resumed.
    pub(crate) wakeup: Arc<Notify>,
}

/// How one claimed event ended for this worker.
enum Outcome {
    Finished,
    /// Another replica or an operator took the event over (lease expired, superseded,
    /// rolled back): stop without touching it.
    LostLease,
    /// The worker was asked to stop: the last batch is written and checkpointed and the lease
    /// released.
    Stopped,
}

/// How one pass over one target ended.
enum TargetEnd {
    /// Every row was read; `skipped` rows changed underneath and need another pass.
    Done {
        skipped: u64,
    },
    LostLease,
    Stopped,
}

#[derive(Debug, thiserror::Error)]
enum MigrateError {
    #[error("{0}")]
    Target(#[from] crate::rotation::targets::TargetError),
    #[error("{}", in_keystore(.0))]
    Key(#[from] KeyError),
    #[error("{}", in_keystore(.0))]
    Store(#[from] crate::storage_error::StoreError),
    #[error("this event migrates to version {target} but the key's primary is version {primary}: a newer rotation or rollback superseded it")]
    Superseded { target: u32, primary: u32 },
    #[error("migration target {0:?} of this event is no longer configured on this server")]
    UnknownTarget(String),
}

/// A keystore failure, said to be the keystore's once: "keystore: …" unless the message
/// already names it ("the keystore database is unavailable", "corrupt keystore row: …").
fn in_keystore(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    if text.contains("keystore") {
        text
    } else {
        format!("keystore: {text}")
    }
}

#[derive(Debug)]
pub(crate) struct Worker {
    deps: WorkerDeps,
    /// Identifies this replica in leases.
    owner: String,
    poll_interval: Duration,
}

impl Worker {
    pub(crate) fn new(deps: WorkerDeps, owner: String, poll_interval: Duration) -> Self {
        Self {
            deps,
            owner,
            poll_interval,
        }
    }

    /// Works events until `stop` is cancelled; a migration under way then stops at a batch
    /// boundary, its last batch written and checkpointed and its lease released.
    pub(crate) async fn run(&self, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(e) = self.work_available(stop).await {
                warn!(error = %e, "migration worker could not claim events; retrying");
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = self.deps.wakeup.notified() => {}
                () = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }

    /// Claims and works events until none is claimable or `stop` is cancelled.
    async fn work_available(
        &self,
        stop: &CancellationToken,
    ) -> Result<(), crate::storage_error::StoreError> {
        while !stop.is_cancelled() {
            let now = self.deps.keys.now();
            let Some(event) = self
                .deps
                .events
                .claim_event(&self.owner, now, self.deps.lease_ms)
                .await?
            else {
                return Ok(());
            };
            let span =
                tracing::info_span!("migration", event_id = %event.id, key = %event.key_name);
            self.work(event, stop).instrument(span).await;
        }
        Ok(())
    }

    async fn work(&self, event: RotationEvent, stop: &CancellationToken) {
        info!(
            to_version = event.target_version(),
            rolling_back = event.rolling_back,
            pass = event.pass,
            "migration started"
        );
        let result = {
            let _rate = RateSeries {
                metrics: &self.deps.metrics,
                event_id: &event.id,
            };
            self.migrate(&event, stop).await
        };
        let (status, error) = match &result {
            Ok(Outcome::LostLease) => {
                info!("migration taken over or stopped elsewhere; leaving it");
                return;
            }
            Ok(Outcome::Stopped) => {
                info!("migration paused at its checkpoint for shutdown; lease released");
                return;
            }
            Ok(Outcome::Finished) if event.rolling_back => (EventStatus::RolledBack, None),
            Ok(Outcome::Finished) => (EventStatus::Completed, None),
            Err(e) => {
                warn!(error = %e, "migration failed; RetryEvent resumes it from its checkpoint");
                (EventStatus::Failed, Some(e.to_string()))
            }
        };
        let now = self.deps.keys.now();
        let finish = self
            .deps
            .events
            .finish_event(&event.id, &self.owner, status, error.as_deref(), now)
            .await;
        if matches!(finish, Ok(true)) {
            self.audit_end(&event, status, error).await;
        }
        match finish {
            Ok(true) => info!("migration ended"),
            Ok(false) => info!("migration was taken over before it could be closed"),
            Err(e) => {
                warn!(error = %e, "could not record the end of the migration; another replica will resume it")
            }
        }
    }

    /// Records the end of a migration in the audit trail, with the records it moved.
    async fn audit_end(&self, event: &RotationEvent, status: EventStatus, error: Option<String>) {
        let migrated = self
            .deps
            .events
            .get_event(&event.id)
            .await
            .ok()
            .flatten()
            .map_or(0, |e| e.totals().migrated);
        let outcome = if status == EventStatus::Failed {
            AuditOutcome::Failed
        } else {
            AuditOutcome::Success
        };
        let operation = match status {
            EventStatus::Failed => AuditOperation::MigrationFailed,
            EventStatus::RolledBack => AuditOperation::MigrationRolledBack,
            _ => AuditOperation::MigrationCompleted,
        };
        let entry = AuditEntry::new(format!("worker:{}", self.owner), operation, outcome)
            .key(event.key_name.clone(), Some(event.target_version()))
            .records(migrated)
            .request_id(event.id.clone())
            .event(event.id.clone())
            .detail(error.unwrap_or_else(|| format!("{migrated} records re-encrypted")));
        self.deps.audit.record(entry).await;
    }

    /// The event loop: passes over the event's unfinished targets, another pass while rows
    /// changed underneath (up to the maximum).
    async fn migrate(
        &self,
        claimed: &RotationEvent,
        stop: &CancellationToken,
    ) -> Result<Outcome, MigrateError> {
        let mut event = claimed.clone();
        self.check_still_primary(&event).await?;
        let mut batch_size = event.batch_size.max(1);
        loop {
            let mut skipped = 0;
            for progress in event.targets.iter().filter(|t| !t.done) {
                match self
                    .migrate_target(&event, progress, &mut batch_size, stop)
                    .await?
                {
                    TargetEnd::Done { skipped: s } => skipped += s,
                    TargetEnd::LostLease => return Ok(Outcome::LostLease),
                    TargetEnd::Stopped => return Ok(Outcome::Stopped),
                }
            }
            if skipped == 0 || event.pass >= self.deps.max_passes {
                return Ok(Outcome::Finished);
            }
            info!(
                skipped,
                pass = event.pass + 1,
                "rows changed underneath; starting another pass"
            );
            let events = &self.deps.events;
            if !events.start_pass(&event.id, &self.owner).await? {
                return Ok(Outcome::LostLease);
            }
            event = match events.get_event(&event.id).await? {
                Some(e) => e,
                None => return Ok(Outcome::LostLease),
            };
        }
    }

    /// An event whose target version is no longer the key's primary was superseded.
    async fn check_still_primary(&self, event: &RotationEvent) -> Result<(), MigrateError> {
        let primary = self
            .deps
            .keys
            .snapshots(Some(&event.key_name))
            .await?
            .first()
            .map(|s| s.record.primary_version);
        if primary == Some(event.target_version()) {
            return Ok(());
        }
        Err(MigrateError::Superseded {
            target: event.target_version(),
            primary: primary.unwrap_or(0),
        })
    }

    /// One pass over one target, from its checkpoint to its end. `cursor` is after the last
    /// row read; a batch is written (and checkpointed) while the next one is re-encrypted, so
    /// the database and the crypto overlap. A stop is only honoured between two batches.
    async fn migrate_target(
        &self,
        event: &RotationEvent,
        progress: &TargetProgress,
        batch_size: &mut u32,
        stop: &CancellationToken,
    ) -> Result<TargetEnd, MigrateError> {
        let name = progress.target.as_str();
        let target = self
            .deps
            .targets
            .iter()
            .find(|t| t.config().name == name)
            .ok_or_else(|| MigrateError::UnknownTarget(name.to_owned()))?;
        let mut cursor = progress
            .checkpoint
            .as_deref()
            .map(|c| target.parse_checkpoint(c))
            .transpose()?;
        let mut prepared: Option<Prepared> = None;
        let mut skipped = 0;
        // When the previous batch was done: a batch's time (its rate, its throttle) runs from
        // there, since reading and writing overlap.
        let mut since = Instant::now();
        loop {
            if stop.is_cancelled() {
                return self
                    .stop_at_checkpoint(event, name, target, prepared, cursor, since)
                    .await;
            }
            let rows = target.fetch_batch(cursor.as_ref(), *batch_size).await?;
            let last = rows.last().map(|r| r.pk.clone());
            let write = self.write_prepared(event, name, target, prepared.take(), since);
            let prepare = self.prepare_rows(event, target, rows);
            let (written, next) = tokio::join!(write, prepare);
            if let Some((record, size)) = written? {
                let Some(size) = size else {
                    return Ok(TargetEnd::LostLease);
                };
                *batch_size = size.max(1);
                skipped += record.counts.skipped;
                self.pace(event, &record, since, stop).await;
                since = Instant::now();
            }
            let (Some((record, updates)), Some(last)) = (next?, last) else {
                let done = BatchRecord {
                    checkpoint: cursor.as_ref().map(PkValue::to_checkpoint),
                    done: true,
                    ..BatchRecord::default()
                };
                let held = self.record(event, name, &done, self.deps.lease_ms).await?;
                return Ok(match held {
                    Some(_) => TargetEnd::Done { skipped },
                    None => TargetEnd::LostLease,
                });
            };
            cursor = Some(last.clone());
            prepared = Some(Prepared {
                record,
                updates,
                last,
            });
        }
    }

    /// Stops between two batches: writes the batch already re-encrypted (if any), records the
    /// checkpoint after it, and releases the lease, so that whoever resumes starts exactly
    /// after the last row written.
    async fn stop_at_checkpoint(
        &self,
        event: &RotationEvent,
        name: &str,
        target: &Target,
        prepared: Option<Prepared>,
        cursor: Option<PkValue>,
        since: Instant,
    ) -> Result<TargetEnd, MigrateError> {
        let held = match prepared {
            Some(batch) => {
                let (record, held) = self
                    .write_batch(event, name, target, batch, since, RELEASED_LEASE_MS)
                    .await?;
                self.count_batch(event, &record, since);
                held
            }
            None => {
                let release = BatchRecord {
                    checkpoint: cursor.as_ref().map(PkValue::to_checkpoint),
                    ..BatchRecord::default()
                };
                self.record(event, name, &release, RELEASED_LEASE_MS)
                    .await?
            }
        };
        Ok(match held {
            Some(_) => TargetEnd::Stopped,
            None => TargetEnd::LostLease,
        })
    }

    async fn record(
        &self,
        event: &RotationEvent,
        target: &str,
        record: &BatchRecord,
        lease_ms: i64,
    ) -> Result<Option<u32>, MigrateError> {
        let now = self.deps.keys.now();
        Ok(self
            .deps
            .events
            .record_batch(&event.id, &self.owner, target, record, now, lease_ms)
            .await?)
    }

    /// Writes the batch prepared in the previous round, if there is one.
    async fn write_prepared(
        &self,
        event: &RotationEvent,
        target_name: &str,
        target: &Target,
        prepared: Option<Prepared>,
        since: Instant,
    ) -> Result<Option<(BatchRecord, Option<u32>)>, MigrateError> {
        match prepared {
            Some(batch) => self
                .write_batch(event, target_name, target, batch, since, self.deps.lease_ms)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// Writes a prepared batch with one compare-and-swap statement and records it (counts,
    /// checkpoint, a lease of `lease_ms`; its time runs from `since`): the record, and the
    /// event's batch size (None: the lease is lost).
    async fn write_batch(
        &self,
        event: &RotationEvent,
        target_name: &str,
        target: &Target,
        batch: Prepared,
        since: Instant,
        lease_ms: i64,
    ) -> Result<(BatchRecord, Option<u32>), MigrateError> {
        let Prepared {
            mut record,
            updates,
            last,
        } = batch;
        if !updates.is_empty() {
            let written = target.compare_and_swap(&updates).await?;
            record.counts.migrated += written.len() as u64;
            record.counts.skipped += (updates.len() - written.len()) as u64;
        }
        record.checkpoint = Some(last.to_checkpoint());
        record.elapsed_ms = elapsed_ms(since);
        let size = self.record(event, target_name, &record, lease_ms).await?;
        Ok((record, size))
    }

    /// Re-encrypts a batch just read, unless it is empty (the end of the target).
    async fn prepare_rows(
        &self,
        event: &RotationEvent,
        target: &Target,
        rows: Vec<Row>,
    ) -> Result<Option<(BatchRecord, Vec<Update>)>, MigrateError> {
        if rows.is_empty() {
            return Ok(None);
        }
        let prepared = batch::prepare_batch(&self.deps.keys, event, target, rows).await?;
        Ok(Some(prepared))
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage_error::StoreError;

    #[test]
    fn a_keystore_failure_names_the_keystore_once() {
        let unavailable = MigrateError::Key(KeyError::Unavailable("pool timed out".into()));
        assert_eq!(
            unavailable.to_string(),
            "the keystore database is unavailable; retry later"
        );
        let corrupt = MigrateError::Store(StoreError::Corrupt("event e: unknown status".into()));
        assert_eq!(
            corrupt.to_string(),
            "corrupt keystore row: event e: unknown status"
        );
        let timed_out = MigrateError::Store(StoreError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(
            timed_out.to_string(),
            "keystore: no database connection became free in time (the pool timed out)"
        );
    }
}
