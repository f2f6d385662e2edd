//! The engine's operations on an existing rotation event: read and list them, run a pending one,
//! retry a failed one, and roll one back. Each change is audited in its own transaction, and a
//! refusal is audited apart, as for rotations.

use tracing::info;

use super::{RotationEngine, Trigger};
use crate::audit::{AuditEntry, AuditOperation, Outcome};
use crate::keystore::KeyError;
use crate::rotation::batch_size::BatchSize;
use crate::rotation::error::{RotationError, RotationResult};
use crate::rotation::events::{EventStatus, ResumeError, RollbackRefusal, RotationEvent};

impl RotationEngine {
    pub(crate) async fn get_event(&self, id: &str) -> RotationResult<RotationEvent> {
        self.event(id).await
    }

    pub(crate) async fn list_events(
        &self,
        key: Option<&str>,
        status: Option<EventStatus>,
        limit: u32,
    ) -> RotationResult<Vec<RotationEvent>> {
        Ok(self.events.list_events(key, status, limit).await?)
    }

    /// Runs or continues an event now, optionally with a new batch size.
    pub(crate) async fn execute(
        &self,
        id: &str,
        batch_size: Option<BatchSize>,
        actor: &str,
    ) -> RotationResult<RotationEvent> {
        let operation = AuditOperation::ExecuteEvent;
        let result = self
            .resume(
                id,
                batch_size.map(BatchSize::get),
                true,
                "only pending, in-progress or failed events can be executed",
                &AuditEntry::new(actor, operation, Outcome::Success),
            )
            .await;
        self.audit_event_failure(actor, operation, id, &result)
            .await;
        result
    }

    /// Resumes a failed event from its checkpoint.
    pub(crate) async fn retry(&self, id: &str, actor: &str) -> RotationResult<RotationEvent> {
        let operation = AuditOperation::RetryEvent;
        let result = self
            .resume(
                id,
                None,
                false,
                "only failed events, and in-progress ones whose replica is gone, can be retried",
                &AuditEntry::new(actor, operation, Outcome::Success),
            )
            .await;
        self.audit_event_failure(actor, operation, id, &result)
            .await;
        result
    }

    /// Audits a failed or refused operation on event `id` (a success was audited with the
    /// change). Best effort, as nothing changed.
    async fn audit_event_failure(
        &self,
        actor: &str,
        operation: AuditOperation,
        id: &str,
        result: &RotationResult<RotationEvent>,
    ) {
        if let Err(e) = result {
            let entry = AuditEntry::new(actor, operation, Outcome::Failed)
                .detail(e.to_string())
                .event(id);
            self.audit.record(entry).await;
        }
    }

    /// Resumes event `id`; `audit` is written with the change.
    async fn resume(
        &self,
        id: &str,
        batch_size: Option<u32>,
        allow_open: bool,
        what: &'static str,
        audit: &AuditEntry,
    ) -> RotationResult<RotationEvent> {
        if id.is_empty() {
            return Err(RotationError::EmptyEventId);
        }
        let now = self.manager.now();
        match self
            .events
            .resume_event(id, batch_size, allow_open, now, audit)
            .await?
        {
            Ok(event) => {
                self.wake_worker.notify_one();
                Ok(event)
            }
            Err(ResumeError::NotFound) => Err(RotationError::EventNotFound(id.to_owned())),
            Err(ResumeError::WrongStatus(status)) => Err(RotationError::WrongStatus {
                id: id.to_owned(),
                status,
                what,
            }),
            Err(ResumeError::OtherEventOpen(other)) => Err(RotationError::OtherEventOpen {
                id: id.to_owned(),
                other,
            }),
            Err(ResumeError::Superseded { target, primary }) => Err(RotationError::Superseded {
                id: id.to_owned(),
                target,
                primary,
            }),
            Err(ResumeError::HeldBy {
                owner,
                lease_expires_at,
            }) => Err(RotationError::HeldBy {
                id: id.to_owned(),
                owner,
                until: crate::clock::rfc3339(lease_expires_at),
            }),
        }
    }

    /// Rolls an event back: its from-version is primary again and the worker migrates the
    /// records back; the event ends `rolled_back`.
    pub(crate) async fn rollback_event(
        &self,
        id: &str,
        actor: &str,
    ) -> RotationResult<RotationEvent> {
        let operation = AuditOperation::RollbackEvent;
        let audit = AuditEntry::new(actor, operation, Outcome::Success);
        let result = self.rollback_event_audited(id, &audit).await;
        if let Ok(event) = &result {
            self.metrics
                .rotation(&event.key_name, Trigger::Rollback.as_str(), true);
        }
        self.audit_event_failure(actor, operation, id, &result)
            .await;
        result
    }

    /// The event's rollback with `audit` in its transaction.
    async fn rollback_event_audited(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> RotationResult<RotationEvent> {
        if !self.manager.rotation_enabled() {
            return Err(KeyError::RotationDisabled.into());
        }
        let event = self.event(id).await?;
        let refused = |reason: String| RotationError::RollbackRefused {
            id: id.to_owned(),
            reason,
        };
        let event = match self
            .events
            .rollback_event(id, self.manager.now(), audit)
            .await? {
            Ok(event) => event,
            Err(RollbackRefusal::NotFound) => return Err(RotationError::EventNotFound(id.to_owned())),
            Err(RollbackRefusal::AlreadyRolledBack) => {
                return Err(refused("it is already rolled back".into()))
            }
            Err(RollbackRefusal::AlreadyRollingBack) => {
                return Err(refused("it is already being rolled back; follow it with GetEvent".into()))
            }
            Err(RollbackRefusal::KeyMovedOn { primary }) => {
                return Err(refused(format!(
                    "key {} has moved on to primary version {primary} since; rolling this event back would skip it",
                    event.key_name
                )))
            }
            Err(RollbackRefusal::FromVersionRetired) => {
                return Err(refused(format!(
                    "version {} of key {} is retired",
                    event.from_version, event.key_name
                )))
            }
        };
        self.manager.refresh_key(&event.key_name).await?;
        info!(event_id = id, key = %event.key_name, "rotation event rolled back; migrating records back");
        self.wake_worker.notify_one();
        Ok(event)
    }
}
