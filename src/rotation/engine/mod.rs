//! `RotationEngine`: rotations that start migrations, the events that record them, and the
//! operations on events (impact, execute, retry, rollback). The scheduler acts through it; it
//! wakes the migration worker, which has its own dependencies, when there is work; the gRPC
//! RotationService is a thin adapter over it.

mod event_ops;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::info;

use crate::audit::{AuditEntry, AuditOperation, Auditor, Outcome};
use crate::keystore::store::{EventDraft, KeyPolicy, RolledBack, RotateGuard, Rotated};
use crate::keystore::{KeyError, KeyManager};
use crate::rotation::batch_size::BatchSize;
use crate::rotation::error::{RotationError, RotationResult};
use crate::rotation::events::{EventStore, RotationEvent};
use crate::rotation::targets::{Target, VersionCounts};
use crate::telemetry::Metrics;

/// How a rotation came about, as recorded on its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    Scheduled,
    Manual,
    Emergency,
    Rollback,
}

impl Trigger {
    pub(crate) const ALL: [Trigger; 4] = [
        Trigger::Scheduled,
        Trigger::Manual,
        Trigger::Emergency,
        Trigger::Rollback,
    ];

    /// What a rotation or rollback with this trigger is audited as.
    fn audit_operation(self) -> AuditOperation {
        match self {
            Trigger::Scheduled => AuditOperation::RotateScheduled,
            Trigger::Manual => AuditOperation::RotateManual,
            Trigger::Emergency => AuditOperation::RotateEmergency,
            Trigger::Rollback => AuditOperation::Rollback,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Emergency => "emergency",
            Trigger::Rollback => "rollback",
        }
    }
}

/// Engine settings taken from the server config.
#[derive(Debug, Clone)]
pub(crate) struct EngineSettings {
    pub(crate) default_batch_size: BatchSize,
    pub(crate) lease_ms: i64,
    /// Passes over the targets at most per event (a pass that skipped rows changed
    /// underneath is followed by another).
    pub(crate) max_passes: u32,
    pub(crate) schedule: cron::Schedule,
    pub(crate) schedule_enabled: bool,
    pub(crate) schedule_cron: String,
}

/// Stored records per version of a key, over its targets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Impact {
    pub(crate) primary_version: u32,
    pub(crate) by_target: Vec<(String, VersionCounts)>,
}

impl Impact {
    pub(crate) fn by_version(&self) -> BTreeMap<u32, u64> {
        let mut sum = BTreeMap::new();
        for (_, counts) in &self.by_target {
            for (version, n) in &counts.by_version {
                *sum.entry(*version).or_insert(0) += n;
            }
        }
        sum
    }

    pub(crate) fn records_on(&self, version: u32) -> u64 {
        self.by_version().get(&version).copied().unwrap_or(0)
    }

    pub(crate) fn records_to_migrate(&self) -> u64 {
        self.by_version()
            .iter()
            .filter(|(v, _)| **v != self.primary_version)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Result of a ScheduleRotation request.
#[derive(Debug)]
pub(crate) enum ScheduleOutcome {
    Rotated(Box<RotationEvent>),
    NotDue(String),
}

#[derive(Debug)]
pub(crate) struct RotationEngine {
    manager: Arc<KeyManager>,
    audit: Arc<Auditor>,
    events: Arc<dyn EventStore>,
    targets: Vec<Arc<Target>>,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
    /// Shared with the migration worker, which waits on it.
    wake_worker: Arc<Notify>,
}

impl RotationEngine {
    pub(crate) fn new(
        manager: Arc<KeyManager>,
        audit: Arc<Auditor>,
        events: Arc<dyn EventStore>,
        targets: Vec<Arc<Target>>,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
        wake_worker: Arc<Notify>,
    ) -> Self {
        Self {
            manager,
            audit,
            events,
            targets,
            settings,
            metrics,
            wake_worker,
        }
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts a rotation or rollback that was attempted: refusals (not due, too soon,
    /// disabled, unknown key, a migration open) are answers, not rotations, and count nothing.
    fn count_rotation<T>(&self, key: &str, trigger: Trigger, result: &RotationResult<T>) {
        match result {
            Ok(_) => self.metrics.rotation(key, trigger.as_str(), true),
            Err(e) if e.is_server_fault() => self.metrics.rotation(key, trigger.as_str(), false),
            Err(_) => {}
        }
    }

    pub(crate) fn manager(&self) -> &Arc<KeyManager> {
        &self.manager
    }

    pub(crate) fn audit(&self) -> &Arc<Auditor> {
        &self.audit
    }

    pub(crate) fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub(crate) fn targets_of<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Target>> + 'a {
        self.targets.iter().filter(move |t| t.config().key == key)
    }

    fn draft(&self, key: &str, trigger: Trigger, actor: &str) -> EventDraft {
        let targets: Vec<&Arc<Target>> = self.targets_of(key).collect();
        // A target's own batch size and rate limit apply to the whole event; with several
        // targets the most conservative wins.
        let batch_size = targets
            .iter()
            .filter_map(|t| t.config().batch_size)
            .min()
            .unwrap_or(self.settings.default_batch_size)
            .get();
        let rate_limit = targets
            .iter()
            .filter_map(|t| t.config().rate_limit)
            .min()
            .unwrap_or(0);
        EventDraft {
            id: new_event_id(),
            trigger: trigger.as_str(),
            actor: actor.to_owned(),
            batch_size,
            rate_limit,
            targets: targets.iter().map(|t| t.config().name.clone()).collect(),
        }
    }

    async fn event(&self, id: &str) -> RotationResult<RotationEvent> {
        if id.is_empty() {
            return Err(RotationError::EmptyEventId);
        }
        self.events
            .get_event(id)
            .await?
            .ok_or_else(|| RotationError::EventNotFound(id.to_owned()))
    }

    /// Rotates `key` if `guard` allows and records the event that migrates its targets.
    pub(crate) async fn rotate(
        &self,
        key: &str,
        guard: RotateGuard,
        trigger: Trigger,
        actor: &str,
    ) -> RotationResult<(Rotated, RotationEvent)> {
        let result = self.rotate_audited(key, guard, trigger, actor).await;
        self.count_rotation(key, trigger, &result);
        // The scheduler asks every key that may be due on every replica; only its real
        // rotations (and real failures) belong in the audit trail.
        if let Err(e) = &result {
            if !matches!(e, RotationError::Key(KeyError::NotDue { .. })) {
                self.audit_failure(actor, trigger.audit_operation(), key, e)
                    .await;
            }
        }
        result
    }

    /// Records an operation on `key` that changed nothing (best effort: with nothing changed,
    /// there is nothing to undo if the audit trail cannot record it either).
    async fn audit_failure(
        &self,
        actor: &str,
        operation: AuditOperation,
        key: &str,
        error: &RotationError,
    ) {
        let entry = AuditEntry::new(actor, operation, Outcome::Failed)
            .key(key, None)
            .detail(error.to_string());
        self.audit.record(entry).await;
    }

    /// The rotation, its event and its audit row, committed together.
    async fn rotate_audited(
        &self,
        key: &str,
        guard: RotateGuard,
        trigger: Trigger,
        actor: &str,
    ) -> RotationResult<(Rotated, RotationEvent)> {
        let draft = self.draft(key, trigger, actor);
        let audit = AuditEntry::new(actor, trigger.audit_operation(), Outcome::Success);
        let rotated = self
            .manager
            .rotate(key, guard, Some(&draft), &audit)
            .await?;
        let event = self.event(&draft.id).await?;
        info!(key, event_id = %event.id, trigger = trigger.as_str(), actor, "rotation event created");
        self.wake_worker.notify_one();
        Ok((rotated, event))
    }

    /// Rolls `key` back to its previous version and records the event that migrates its
    /// targets back, with its audit row in the same transaction (a failure is audited too).
    pub(crate) async fn rollback_key(
        &self,
        key: &str,
        actor: &str,
    ) -> RotationResult<(RolledBack, RotationEvent)> {
        let operation = Trigger::Rollback.audit_operation();
        let result = async {
            let draft = self.draft(key, Trigger::Rollback, actor);
            let audit = AuditEntry::new(actor, operation, Outcome::Success);
            let rolled = self.manager.rollback(key, Some(&draft), &audit).await?;
            let event = self.event(&draft.id).await?;
            self.wake_worker.notify_one();
            Ok((rolled, event))
        }
        .await;
        self.count_rotation(key, Trigger::Rollback, &result);
        if let Err(e) = &result {
            self.audit_failure(actor, operation, key, e).await;
        }
        result
    }

    /// The runbook's "schedule rotation": rotate now if due, or at once with `force`.
    pub(crate) async fn schedule_rotation(
        &self,
        key: &str,
        force: bool,
        actor: &str,
    ) -> RotationResult<ScheduleOutcome> {
        let (guard, trigger) = if force {
            (RotateGuard::Always, Trigger::Emergency)
        } else {
            let policy = self.key_policy(key).await?;
            let due_by = policy.due_by(self.manager.now());
            (RotateGuard::DueBy(due_by), Trigger::Manual)
        };
        match self.rotate(key, guard, trigger, actor).await {
            Ok((_, event)) => Ok(ScheduleOutcome::Rotated(Box::new(event))),
            Err(RotationError::Key(e @ KeyError::NotDue { .. })) => {
                Ok(ScheduleOutcome::NotDue(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    async fn key_policy(&self, key: &str) -> RotationResult<KeyPolicy> {
        let snapshot = self.manager.snapshots(Some(key)).await?;
        snapshot
            .first()
            .map(|s| s.record.policy)
            .ok_or_else(|| RotationError::Key(KeyError::KeyNotFound(key.to_owned())))
    }

    /// Stored records per version of `key` in its targets, from the ciphertext headers only.
    pub(crate) async fn impact(&self, key: &str) -> RotationResult<Impact> {
        let snapshot = self.manager.snapshots(Some(key)).await?;
        let primary_version = snapshot.first().map_or(0, |s| s.record.primary_version);
        let mut by_target = Vec::new();
        for target in self.targets_of(key) {
            by_target.push((
                target.config().name.clone(),
                target.version_counts(key).await?,
            ));
        }
        Ok(Impact {
            primary_version,
            by_target,
        })
    }
}

/// A new event id: "evt-" and 24 hex digits of OS randomness.
fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    // An OS without a working random source cannot run a KMS at all (rng::fill panics).
    crate::crypto::rng::fill(&mut bytes);
    format!("evt-{}", hex::encode(bytes))
}
