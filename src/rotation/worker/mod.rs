//! The migration worker. Each replica runs one; it claims work on open events through leases
//! in the keystore database (a dead holder's lease expires and is taken over) and works up to
//! its number of lanes at once:
//!
//! - The first worker to take an event up cuts each of its targets into partitions
//!   (`parallelism` of them, from the target's own bounds: `plan.rs`) and writes them; the
//!   event is then shared by every replica, one lease per partition.
//! - A partition is worked batch by batch (`partition.rs`): read the next batch by keyset
//!   pagination after the checkpoint (up to the partition's end), re-encrypt in process the rows
//!   that need it, write them back with one compare-and-swap statement (a row the application
//!   changed in between keeps the application's value: counted skipped, picked up by another
//!   pass), and record counts and the checkpoint, renewing the lease.
//! - The worker that finishes the last partition of a pass closes it: another pass if rows
//!   changed underneath, else the event ends.
//!
//! A crash anywhere repeats at most one batch per partition on resume: rows it already moved
//! are then seen as current, and a value is never encrypted twice because only decrypted
//! plaintext is encrypted. A graceful stop (shutdown) repeats nothing: each lane stops between
//! two batches, after the last one read is written and checkpointed, and releases its lease so
//! that another replica, or the next start, resumes right after it.

mod batch;
mod pacing;
mod partition;
mod plan;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::audit::{AuditEntry, AuditOperation, Auditor, Outcome as AuditOutcome};
use crate::keystore::{KeyError, KeyManager};
use crate::rotation::events::{Claim, EventStatus, EventStore, PassEnd, RotationEvent};
use crate::rotation::targets::Target;
use crate::telemetry::Metrics;

/// Partitions one replica works at once, at most.
const MAX_LANES: usize = 64;

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
    /// Partitions per target for targets that do not set `parallelism`.
    pub(crate) default_parallelism: u32,
    /// Partitions this replica works at once (None: every target's parallelism).
    pub(crate) lanes: Option<u32>,
    /// How long a claimed partition stays this worker's without a recorded batch.
    pub(crate) lease_ms: i64,
    /// Passes over the targets per event at most.
    pub(crate) max_passes: u32,
    /// Notified when an event is created or resumed.
    pub(crate) wakeup: Arc<Notify>,
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

#[derive(Debug, Clone)]
pub(crate) struct Worker {
    deps: WorkerDeps,
    /// Identifies this replica in leases.
    owner: String,
    /// Numbers this replica's claims: each lane holds its lease as `owner/n`, so that a lane
    /// whose lease lapsed cannot keep writing beside another lane of the same replica that
    /// took the partition over.
    claims: Arc<AtomicU64>,
    poll_interval: Duration,
}

impl Worker {
    pub(crate) fn new(deps: WorkerDeps, owner: String, poll_interval: Duration) -> Self {
        Self {
            deps,
            owner,
            claims: Arc::default(),
            poll_interval,
        }
    }

    /// Works events until `stop` is cancelled; migrations under way then stop at a batch
    /// boundary, their last batch written and checkpointed and their leases released.
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

    /// Partitions this replica works at once: as configured, else every configured target's
    /// parallelism.
    fn lanes(&self) -> usize {
        if let Some(lanes) = self.deps.lanes {
            return (lanes as usize).clamp(1, MAX_LANES);
        }
        let sum: usize = self
            .deps
            .targets
            .iter()
            .map(|t| self.parallelism(t) as usize)
            .sum();
        sum.clamp(1, MAX_LANES)
    }

    fn parallelism(&self, target: &Target) -> u32 {
        target
            .config()
            .parallelism
            .unwrap_or(self.deps.default_parallelism)
            .max(1)
    }

    fn target(&self, name: &str) -> Result<&Arc<Target>, MigrateError> {
        self.deps
            .targets
            .iter()
            .find(|t| t.config().name == name)
            .ok_or_else(|| MigrateError::UnknownTarget(name.to_owned()))
    }

    /// Claims and works partitions, up to the lanes at once, until none is claimable and
    /// every lane has ended (or `stop` is cancelled and every lane has stopped).
    async fn work_available(
        &self,
        stop: &CancellationToken,
    ) -> Result<(), crate::storage_error::StoreError> {
        let mut lanes = JoinSet::new();
        let mut look = true;
        loop {
            while look && lanes.len() < self.lanes() && !stop.is_cancelled() {
                let now = self.deps.keys.now();
                let holder = format!(
                    "{}/{}",
                    self.owner,
                    self.claims.fetch_add(1, Ordering::Relaxed) + 1
                );
                let claim = self
                    .deps
                    .events
                    .claim_work(&holder, now, self.deps.lease_ms)
                    .await;
                match claim {
                    Ok(Some(Claim::Close(event))) => look = self.close(&event).await,
                    Ok(Some(claim)) => {
                        let (this, stop) = (self.clone(), stop.clone());
                        lanes.spawn(async move { this.work(claim, &holder, &stop).await });
                    }
                    Ok(None) => look = false,
                    Err(e) if lanes.is_empty() => return Err(e),
                    Err(e) => {
                        warn!(error = %e, "migration worker could not claim more work; retrying");
                        look = false;
                    }
                }
            }
            if lanes.is_empty() {
                return Ok(());
            }
            // A lane ending frees a lane (and may have opened a pass); a new event, or a
            // lease lapsing elsewhere, is found by looking again.
            tokio::select! {
                ended = lanes.join_next() => {
                    if let Some(Err(e)) = ended {
                        if e.is_panic() {
                            std::panic::resume_unwind(e.into_panic());
                        }
                    }
                    look = true;
                }
                () = self.deps.wakeup.notified() => look = true,
                () = tokio::time::sleep(self.poll_interval) => look = true,
            }
        }
    }

    /// Works one claim, holding its lease as `holder`.
    async fn work(&self, claim: Claim, holder: &str, stop: &CancellationToken) {
        match claim {
            Claim::Plan(event) => {
                let span =
                    tracing::info_span!("migration", event_id = %event.id, key = %event.key_name);
                self.plan(&event, holder, stop).instrument(span).await;
            }
            Claim::Partition {
                event,
                target,
                index,
            } => {
                let span = tracing::info_span!("migration", event_id = %event.id,
                    key = %event.key_name, target = %target, partition = index);
                self.work_partition(&event, holder, &target, index, stop)
                    .instrument(span)
                    .await;
            }
            Claim::Close(event) => {
                self.close(&event).await;
            }
        }
    }

    /// Ends the event's pass if every partition is done (whoever gets here first does it):
    /// true if that changed anything.
    async fn close(&self, event: &RotationEvent) -> bool {
        let now = self.deps.keys.now();
        let ended = self
            .deps
            .events
            .close_pass(&event.id, self.deps.max_passes, now)
            .await;
        match ended {
            Ok(PassEnd::Open) => false,
            Ok(PassEnd::NextPass) => {
                info!(event_id = %event.id, "rows changed underneath; another pass over every partition");
                self.deps.wakeup.notify_one();
                true
            }
            Ok(PassEnd::Finished(status)) => {
                info!(event_id = %event.id, %status, "migration ended");
                self.audit_end(event, status, None).await;
                true
            }
            Err(e) => {
                warn!(event_id = %event.id, error = %e, "could not close the migration; another worker will");
                false
            }
        }
    }

    /// Fails the event on `error` if `holder` still holds `partition` (or the event's own
    /// lease), and audits it; RetryEvent resumes it from its checkpoints.
    async fn fail(
        &self,
        event: &RotationEvent,
        holder: &str,
        partition: Option<(&str, u32)>,
        error: &MigrateError,
    ) {
        let text = error.to_string();
        warn!(error = %text, "migration failed; RetryEvent resumes it from its checkpoints");
        let now = self.deps.keys.now();
        match self
            .deps
            .events
            .fail_event(&event.id, holder, partition, &text, now)
            .await
        {
            Ok(true) => self.audit_end(event, EventStatus::Failed, Some(text)).await,
            Ok(false) => info!("the migration was taken over before it could be failed"),
            Err(e) => warn!(error = %e, "could not record the failure; the lease will lapse"),
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
