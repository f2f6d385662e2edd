//! Rotation events as stored: every rotation and rollback, with the progress, checkpoint and
//! lease of the migration it starts. The SQL lives in `crate::sql` (`sql/events.rs`).

use std::fmt;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::storage_error::StoreResult;

/// Lifecycle of a rotation event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EventStatus {
    /// Waiting for a worker.
    Pending,
    /// A worker holds its lease and is migrating.
    InProgress,
    Completed,
    /// Stopped on an error (or superseded); `RetryEvent` resumes it from its checkpoint.
    Failed,
    /// Rolled back: the from-version is primary again and records were migrated back.
    RolledBack,
}

impl EventStatus {
    pub(crate) const ALL: [EventStatus; 5] = [
        EventStatus::Pending,
        EventStatus::InProgress,
        EventStatus::Completed,
        EventStatus::Failed,
        EventStatus::RolledBack,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::InProgress => "in_progress",
            EventStatus::Completed => "completed",
            EventStatus::Failed => "failed",
            EventStatus::RolledBack => "rolled_back",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row counts of a migration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: u64,
    pub(crate) migrated: u64,
    pub(crate) already_current: u64,
    pub(crate) skipped: u64,
    pub(crate) failed: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.total += other.total;
        self.migrated += other.migrated;
        self.already_current += other.already_current;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// Progress of one migration target within an event: its partitions' counts summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetProgress {
    pub(crate) target: String,
    pub(crate) counts: Counts,
    /// The checkpoint of a target worked as one partition (or before partitions existed);
    /// None when it has several (each has its own).
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
    pub(crate) failed_ids: Vec<String>,
    /// Empty until a worker has taken the event up and cut the target into partitions.
    pub(crate) partitions: Vec<PartitionProgress>,
}

/// One partition of a target's key space: keys after `lower` up to `upper` (inclusive), as
/// checkpoints; None is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionProgress {
    pub(crate) index: u32,
    pub(crate) lower: Option<String>,
    pub(crate) upper: Option<String>,
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
    /// The replica working it (or that last did), and until when its lease holds.
    pub(crate) lease_owner: Option<String>,
    pub(crate) lease_expires_at: Option<Millis>,
}

/// A partition as the worker that first takes an event up writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionPlan {
    pub(crate) target: String,
    pub(crate) index: u32,
    pub(crate) lower: Option<String>,
    pub(crate) upper: Option<String>,
    /// Where an event started before partitions existed had got to (one partition).
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
}

/// Work a migration worker claimed.
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    /// An open event no worker has cut into partitions yet: this worker holds the event's
    /// lease until it writes them ([`EventStore::plan_partitions`]).
    Plan(RotationEvent),
    /// One partition of an open event: this worker holds its lease.
    Partition {
        event: RotationEvent,
        target: String,
        index: u32,
    },
    /// An open event whose partitions are all done but which nobody closed (its last worker
    /// stopped in between): see [`EventStore::close_pass`].
    Close(RotationEvent),
}

/// What [`EventStore::record_batch`] tells the partition's worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The event's batch size (ExecuteEvent may change it).
    pub(crate) batch_size: u32,
    /// Partitions of the event being worked now (lease live, not done), this one included
    /// unless it just finished: they share the event's rate limit.
    pub(crate) live_partitions: u32,
}

/// How [`EventStore::close_pass`] left the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassEnd {
    /// Partitions remain (or another worker closed the pass first): nothing to do.
    Open,
    /// Rows changed underneath in the pass: every partition starts again from its start.
    NextPass,
    /// The event ended with this status; the caller closed it and audits it.
    Finished(EventStatus),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RotationEvent {
    pub(crate) id: String,
    pub(crate) key_name: String,
    pub(crate) from_version: u32,
    pub(crate) to_version: u32,
    pub(crate) trigger: String,
    pub(crate) actor: String,
    pub(crate) status: EventStatus,
    pub(crate) rolling_back: bool,
    pub(crate) created_at: Millis,
    pub(crate) started_at: Option<Millis>,
    pub(crate) finished_at: Option<Millis>,
    pub(crate) batch_size: u32,
    pub(crate) rate_limit: u32,
    pub(crate) active_millis: i64,
    pub(crate) pass: u32,
    pub(crate) last_error: Option<String>,
    pub(crate) lease_owner: Option<String>,
    pub(crate) targets: Vec<TargetProgress>,
}

impl RotationEvent {
    /// The version records are being moved to: the to-version, or the from-version while
    /// rolling back.
    pub(crate) fn target_version(&self) -> u32 {
        if self.rolling_back {
            self.from_version
        } else {
            self.to_version
        }
    }

    pub(crate) fn totals(&self) -> Counts {
        let mut sum = Counts::default();
        for target in &self.targets {
            sum += target.counts;
        }
        sum
    }

    /// Records re-encrypted per second of wall time since a worker took the event up, until
    /// it finished or `now`: what an operator sees happen, throttling (`rate_limit`) and
    /// pauses included, so it never exceeds the rate limit for long.
    pub(crate) fn records_per_second(&self, now: Millis) -> f64 {
        let Some(started) = self.started_at else {
            return 0.0;
        };
        let elapsed = self.finished_at.unwrap_or(now) - started;
        if elapsed <= 0 {
            return 0.0;
        }
        self.totals().migrated as f64 * 1000.0 / elapsed as f64
    }

    /// Records re-encrypted per second of the worker's own work (reading, re-encrypting and
    /// writing batches, not waiting for the rate limit): what the machine can do.
    pub(crate) fn work_records_per_second(&self) -> f64 {
        if self.active_millis <= 0 {
            return 0.0;
        }
        self.totals().migrated as f64 * 1000.0 / self.active_millis as f64
    }
}

/// What one batch of a migration did, recorded with its checkpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchRecord {
    pub(crate) counts: Counts,
    /// Primary key of the last row of the batch; None when the target is finished.
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
    pub(crate) failed_ids: Vec<String>,
    pub(crate) elapsed_ms: i64,
}

/// Outcome of a request to resume or re-tune an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResumeError {
    NotFound,
    /// The event is in a status that cannot be resumed; the status is given.
    WrongStatus(EventStatus),
    /// Another event of the key is open.
    OtherEventOpen(String),
    /// The key's primary is no longer the version this event migrates to.
    Superseded {
        target: u32,
        primary: u32,
    },
    /// A replica is migrating the event and renewing its lease: it is not stuck.
    HeldBy {
        owner: String,
        lease_expires_at: crate::clock::Millis,
    },
}

/// Why an event cannot be rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RollbackRefusal {
    NotFound,
    AlreadyRolledBack,
    AlreadyRollingBack,
    /// The key's primary is no longer the event's to-version.
    KeyMovedOn {
        primary: u32,
    },
    FromVersionRetired,
}

/// Storage of rotation events. Every method is safe with several replicas on one database.
#[async_trait]
pub(crate) trait EventStore: Send + Sync + fmt::Debug {
    async fn get_event(&self, id: &str) -> StoreResult<Option<RotationEvent>>;

    /// Newest first.
    async fn list_events(
        &self,
        key: Option<&str>,
        status: Option<EventStatus>,
        limit: u32,
    ) -> StoreResult<Vec<RotationEvent>>;

    /// Claims work on the oldest open event with any: a partition whose lease is free or
    /// expired (a dead holder's is taken over), else an event not yet cut into partitions,
    /// else an event left with every partition done. The claimed lease is `owner`'s until
    /// `now + lease_ms`; the event becomes in_progress.
    async fn claim_work(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<Option<Claim>>;

    /// Writes the partitions of an event claimed with [`Claim::Plan`] and releases the
    /// event's lease, handing `owner` the lease (until `now + lease_ms`) of the first
    /// partition not done, so that the event is never without a holder in between. False
    /// (writing nothing) if `owner` no longer holds the event.
    async fn plan_partitions(
        &self,
        event_id: &str,
        owner: &str,
        partitions: &[PartitionPlan],
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<bool>;

    /// Records a batch of partition `index` of `target` and renews its lease. None if `owner`
    /// no longer holds the partition (lease taken over; event failed, superseded, retried or
    /// rolled back): the caller must stop.
    #[allow(clippy::too_many_arguments)]
    async fn record_batch(
        &self,
        event_id: &str,
        owner: &str,
        target: &str,
        index: u32,
        batch: &BatchRecord,
        now: Millis,
        lease_ms: i64,
    ) -> StoreResult<Option<Grant>>;

    /// Ends the current pass if every partition is done: another pass (checkpoints cleared)
    /// if rows were skipped in it and fewer than `max_passes` ran, else the end of the event
    /// (completed, or rolled_back for a migration back). Safe to call from every worker at
    /// once: one of them gets `NextPass` or `Finished`.
    async fn close_pass(
        &self,
        event_id: &str,
        max_passes: u32,
        now: Millis,
    ) -> StoreResult<PassEnd>;

    /// Fails the event with `error`, if `owner` holds partition `index` of `target` (or,
    /// with no target, the event's own lease), and releases every lease. False if not.
    async fn fail_event(
        &self,
        event_id: &str,
        owner: &str,
        partition: Option<(&str, u32)>,
        error: &str,
        now: Millis,
    ) -> StoreResult<bool>;

    /// Makes a failed event pending again (keeping its checkpoints), or, with
    /// `allow_open`, also accepts a pending or in-progress one; sets the batch size if given.
    /// A change is written with `audit` (recorded at `now`, naming the event, its key and the
    /// version it migrates to) in the same transaction; a refusal changes and writes nothing.
    async fn resume_event(
        &self,
        event_id: &str,
        batch_size: Option<u32>,
        allow_open: bool,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Result<RotationEvent, ResumeError>>;

    /// Rolls the event back in one transaction: its from-version becomes the key's primary
    /// again, its to-version Deprecated; the event becomes pending with `rolling_back` set and
    /// fresh progress, so the worker migrates records back. Another open event of the key is
    /// superseded. `audit` is written with it, as in `resume_event`.
    async fn rollback_event(
        &self,
        event_id: &str,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Result<RotationEvent, RollbackRefusal>>;
}
