//! The rotation scheduler: on its cron schedule (daily at 02:00 UTC by default) it rotates
//! every key whose primary is older than its rotation interval, and retires Deprecated
//! versions past their grace period once no stored record uses them.
//!
//! Every replica runs it; the rotation's guard is checked inside the rotation's transaction
//! (`RotateGuard::DueBy`), so when three replicas fire at once each due key rotates once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::audit::{AuditEntry, AuditOperation, Outcome};
use crate::clock::Millis;
use crate::clock::MILLIS_PER_SEC;
use crate::keystore::manager::KeySnapshot;
use crate::keystore::store::{RotateGuard, VersionState};
use crate::keystore::KeyError;
use crate::rotation::engine::{RotationEngine, Trigger};
use crate::rotation::error::RotationError;

/// The actor recorded on what the scheduler does.
pub(crate) const SCHEDULER_ACTOR: &str = "scheduler";

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// (key, event id) of each rotation.
    pub rotated: Vec<(String, String)>,
    /// (key, version) of each retirement.
    pub retired: Vec<(String, u32)>,
    /// (key, version, records still using it): past the grace period but kept.
    pub held: Vec<(String, u32, u64)>,
    /// Keys the run could not handle, with the reason.
    pub errors: Vec<(String, String)>,
}

/// Rotates keys when their policy says they are due and retires versions past their grace
/// period, on the configured schedule. Public as
/// [`RunningServer::scheduler`](crate::server::RunningServer::scheduler) hands it out, so that
/// the integration tests can run it on demand ([`Scheduler::run_once`]).
#[derive(Debug)]
pub struct Scheduler {
    engine: Arc<RotationEngine>,
}

impl Scheduler {
    pub(crate) fn new(engine: Arc<RotationEngine>) -> Self {
        Self { engine }
    }

    async fn audit(&self, entry: AuditEntry) {
        self.engine.audit().record(entry).await;
    }

    /// The next run after `now`, if the scheduler is enabled.
    pub(crate) fn next_run(&self, now: Millis) -> Option<Millis> {
        let settings = self.engine.settings();
        if !settings.schedule_enabled || !self.engine.manager().rotation_enabled() {
            return None;
        }
        let after = DateTime::<Utc>::from_timestamp_millis(now)?;
        settings
            .schedule
            .after(&after)
            .next()
            .map(|t| t.timestamp_millis())
    }

    /// Runs on schedule until `stop` is cancelled (a run under way is finished first).
    /// Decisions use the injectable clock; the wait between runs uses real time.
    pub(crate) async fn run(&self, stop: &CancellationToken) {
        loop {
            let now = self.engine.manager().now();
            let Some(next) = self.next_run(now) else {
                info!("rotation scheduler disabled (KEY_ROTATION_ENABLED / KEY_ROTATION_SCHEDULE_ENABLED)");
                return;
            };
            let wait = u64::try_from(next - now).unwrap_or(0);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = stop.cancelled() => return,
            }
            let report = self.run_once().await;
            if !report.errors.is_empty() {
                warn!(errors = ?report.errors, "scheduler run finished with errors");
            }
        }
    }

    /// One run: rotate due keys, retire versions past their grace period with no records.
    pub async fn run_once(&self) -> RunReport {
        let mut report = RunReport::default();
        let manager = self.engine.manager();
        let snapshots = match manager.snapshots(None).await {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(("*".into(), e.to_string()));
                return report;
            }
        };
        let now = manager.now();
        for snapshot in snapshots {
            self.rotate_if_due(&snapshot, now, &mut report).await;
            self.retire_expired(&snapshot, now, &mut report).await;
        }
        report
    }

    /// Rotates the key of `snapshot` if its primary is older than the rotation interval.
    async fn rotate_if_due(&self, snapshot: &KeySnapshot, now: Millis, report: &mut RunReport) {
        let key = snapshot.record.name.as_str();
        if snapshot.due_at() > now {
            return;
        }
        let due_by = snapshot.record.policy.due_by(now);
        let rotated = self
            .engine
            .rotate(
                key,
                RotateGuard::DueBy(due_by),
                Trigger::Scheduled,
                SCHEDULER_ACTOR,
            )
            .await;
        match rotated {
            Ok((rotated, event)) => {
                info!(key, new_version = rotated.new_version, event_id = %event.id, "scheduled rotation");
                report.rotated.push((key.to_owned(), event.id));
            }
            // Another replica rotated it first, or a migration is still running.
            Err(RotationError::Key(
                KeyError::NotDue { .. } | KeyError::MigrationInProgress { .. },
            )) => debug!(key, "not rotated: already handled"),
            Err(e) => report.errors.push((key.to_owned(), e.to_string())),
        }
    }

    /// Retires the Deprecated versions of `snapshot` whose grace period is over, unless
    /// stored records still use them (those are held, and the refusal audited).
    async fn retire_expired(&self, snapshot: &KeySnapshot, now: Millis, report: &mut RunReport) {
        let key = snapshot.record.name.as_str();
        let grace_ms = snapshot.record.policy.grace_period_secs * MILLIS_PER_SEC;
        let expired: Vec<u32> = snapshot
            .versions
            .iter()
            .filter(|v| v.state == VersionState::Deprecated)
            .filter(|v| v.deprecated_at.is_some_and(|at| at + grace_ms <= now))
            .map(|v| v.version)
            .collect();
        if expired.is_empty() {
            return;
        }
        let impact = match self.engine.impact(key).await {
            Ok(impact) => impact,
            Err(e) => {
                report.errors.push((key.to_owned(), e.to_string()));
                return;
            }
        };
        for version in expired {
            let records = impact.records_on(version);
            if records > 0 {
                warn!(
                    key,
                    version,
                    records,
                    "grace period over but records still use this version; not retiring it"
                );
                report.held.push((key.to_owned(), version, records));
                self.audit(
                    AuditEntry::new(
                        SCHEDULER_ACTOR,
                        AuditOperation::RetireVersion,
                        Outcome::Failed,
                    )
                    .key(key, Some(version))
                    .records(records)
                    .detail(format!(
                        "grace period over but {records} stored records still use this version"
                    )),
                )
                .await;
                continue;
            }
            // A retirement is audited in its own transaction.
            let retired = self
                .engine
                .manager()
                .retire_version(key, version, SCHEDULER_ACTOR)
                .await;
            match retired {
                Ok(true) => report.retired.push((key.to_owned(), version)),
                Ok(false) => {}
                Err(e) => report.errors.push((key.to_owned(), e.to_string())),
            }
        }
    }
}
