//! One partition of a target, worked from its checkpoint to its end. A batch is written (and
//! checkpointed) while the next one is re-encrypted, so the database and the crypto overlap;
//! a stop is only honoured between two batches.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::batch::{self, Prepared};
use super::pacing::RateSeries;
use super::{MigrateError, Worker};
use crate::rotation::events::{BatchRecord, Grant, PartitionProgress, RotationEvent};
use crate::rotation::targets::{PkValue, Row, Target, Update};
use crate::storage_error::StoreError;

/// The lease a stopping worker (or one that finished its partition) leaves behind: already
/// expired, so that another replica (or this one, restarted) claims the partition at once and
/// resumes from the checkpoint just written.
const RELEASED_LEASE_MS: i64 = -1;

/// How working one partition ended for this worker.
enum PartitionEnd {
    /// Every row of the partition was read in this pass.
    Done,
    /// Another replica or an operator took the partition over (lease expired, event failed,
    /// superseded, retried or rolled back): stop without touching it.
    LostLease,
    /// The worker was asked to stop: the last batch is written and checkpointed and the lease
    /// released.
    Stopped,
}

/// The partition being worked: where it is, and what the keystore last granted.
struct Lane<'a> {
    event: &'a RotationEvent,
    /// Holds the partition's lease.
    holder: &'a str,
    target: &'a Target,
    name: &'a str,
    index: u32,
    grant: Grant,
}

impl Worker {
    pub(super) async fn work_partition(
        &self,
        event: &RotationEvent,
        holder: &str,
        name: &str,
        index: u32,
        stop: &CancellationToken,
    ) {
        let result = {
            let _rate = RateSeries::start(&self.deps.metrics, event);
            self.migrate_partition(event, holder, name, index, stop)
                .await
        };
        match result {
            Ok(PartitionEnd::Done) => {
                self.close(event).await;
            }
            Ok(PartitionEnd::LostLease) => {
                info!("partition taken over or stopped elsewhere; leaving it")
            }
            Ok(PartitionEnd::Stopped) => {
                info!("partition paused at its checkpoint for shutdown; lease released");
            }
            // A failure while the server shuts down (its runtime refusing new connections,
            // say) is not the event's: the partition is left at its last checkpoint, and the
            // next start, or another replica once the lease lapses, resumes it.
            Err(e) if stop.is_cancelled() => {
                warn!(error = %e, "partition left at its checkpoint: the server is stopping");
            }
            Err(e) => self.fail(event, holder, Some((name, index)), &e).await,
        }
    }

    async fn migrate_partition(
        &self,
        event: &RotationEvent,
        holder: &str,
        name: &str,
        index: u32,
        stop: &CancellationToken,
    ) -> Result<PartitionEnd, MigrateError> {
        let target = self.target(name)?;
        let partition = partition_of(event, name, index)?;
        self.check_still_primary(event).await?;
        let parse =
            |c: &Option<String>| c.as_deref().map(|c| target.parse_checkpoint(c)).transpose();
        let upper = parse(&partition.upper)?;
        let mut cursor = match &partition.checkpoint {
            Some(_) => parse(&partition.checkpoint)?,
            None => parse(&partition.lower)?,
        };
        let partitions: usize = event.targets.iter().map(|t| t.partitions.len()).sum();
        let mut lane = Lane {
            event,
            holder,
            target,
            name,
            index,
            grant: Grant {
                batch_size: event.batch_size.max(1),
                live_partitions: u32::try_from(partitions).unwrap_or(u32::MAX).max(1),
            },
        };
        let mut prepared: Option<Prepared> = None;
        // When the previous batch was done: a batch's time (its rate, its throttle) runs from
        // there, since reading and writing overlap.
        let mut since = Instant::now();
        loop {
            if stop.is_cancelled() {
                return self
                    .stop_at_checkpoint(&lane, prepared, cursor, since)
                    .await;
            }
            let limit = lane.grant.batch_size.max(1);
            let rows = target
                .fetch_batch(cursor.as_ref(), upper.as_ref(), limit)
                .await?;
            let last = rows.last().map(|r| r.pk.clone());
            let write = self.write_prepared(&lane, prepared.take(), since);
            let prepare = self.prepare_rows(event, target, rows);
            let (written, next) = tokio::join!(write, prepare);
            if let Some((record, grant)) = written? {
                let Some(grant) = grant else {
                    return Ok(PartitionEnd::LostLease);
                };
                lane.grant = grant;
                self.pace(event, &record, since, grant.live_partitions, stop)
                    .await;
                since = Instant::now();
            }
            let (Some((record, updates)), Some(last)) = (next?, last) else {
                let done = BatchRecord {
                    checkpoint: cursor.as_ref().map(PkValue::to_checkpoint),
                    done: true,
                    ..BatchRecord::default()
                };
                // Nobody needs a finished partition's lease: released with it.
                let held = self.record(&lane, &done, RELEASED_LEASE_MS).await?;
                return Ok(match held {
                    Some(_) => PartitionEnd::Done,
                    None => PartitionEnd::LostLease,
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
        lane: &Lane<'_>,
        prepared: Option<Prepared>,
        cursor: Option<PkValue>,
        since: Instant,
    ) -> Result<PartitionEnd, MigrateError> {
        let held = match prepared {
            Some(batch) => {
                let (record, held) = self
                    .write_batch(lane, batch, since, RELEASED_LEASE_MS)
                    .await?;
                self.count_batch(lane.event, &record, since);
                held
            }
            None => {
                let release = BatchRecord {
                    checkpoint: cursor.as_ref().map(PkValue::to_checkpoint),
                    ..BatchRecord::default()
                };
                self.record(lane, &release, RELEASED_LEASE_MS).await?
            }
        };
        Ok(match held {
            Some(_) => PartitionEnd::Stopped,
            None => PartitionEnd::LostLease,
        })
    }

    async fn record(
        &self,
        lane: &Lane<'_>,
        record: &BatchRecord,
        lease_ms: i64,
    ) -> Result<Option<Grant>, MigrateError> {
        let now = self.deps.keys.now();
        Ok(self
            .deps
            .events
            .record_batch(
                &lane.event.id,
                lane.holder,
                lane.name,
                lane.index,
                record,
                now,
                lease_ms,
            )
            .await?)
    }

    /// Writes the batch prepared in the previous round, if there is one.
    async fn write_prepared(
        &self,
        lane: &Lane<'_>,
        prepared: Option<Prepared>,
        since: Instant,
    ) -> Result<Option<(BatchRecord, Option<Grant>)>, MigrateError> {
        match prepared {
            Some(batch) => self
                .write_batch(lane, batch, since, self.deps.lease_ms)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// Writes a prepared batch with one compare-and-swap statement and records it (counts,
    /// checkpoint, a lease of `lease_ms`; its time runs from `since`): the record, and what the
    /// keystore granted (None: the lease is lost).
    async fn write_batch(
        &self,
        lane: &Lane<'_>,
        batch: Prepared,
        since: Instant,
        lease_ms: i64,
    ) -> Result<(BatchRecord, Option<Grant>), MigrateError> {
        let Prepared {
            mut record,
            updates,
            last,
        } = batch;
        if !updates.is_empty() {
            let written = lane.target.compare_and_swap(&updates).await?;
            record.counts.migrated += written.len() as u64;
            record.counts.skipped += (updates.len() - written.len()) as u64;
        }
        record.checkpoint = Some(last.to_checkpoint());
        record.elapsed_ms = elapsed_ms(since);
        let grant = self.record(lane, &record, lease_ms).await?;
        Ok((record, grant))
    }

    /// Re-encrypts a batch just read, unless it is empty (the end of the partition).
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

/// Partition `index` of target `name` as the claimed event holds it.
fn partition_of<'e>(
    event: &'e RotationEvent,
    name: &str,
    index: u32,
) -> Result<&'e PartitionProgress, MigrateError> {
    event
        .targets
        .iter()
        .find(|t| t.target == name)
        .and_then(|t| t.partitions.iter().find(|p| p.index == index))
        .ok_or_else(|| {
            MigrateError::Store(StoreError::Corrupt(format!(
                "event {}: partition {index} of target {name:?} vanished",
                event.id
            )))
        })
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}
