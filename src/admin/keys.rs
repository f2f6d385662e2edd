//! Key queries and commands: status, schedule, impact, rotate, schedule a rotation, roll back.

use super::query::given;
use super::views::{
    EventJson, ImpactJson, KeyScheduleJson, KeyStatusJson, RolledBackJson, RotatedJson,
    ScheduleJson, ScheduledJson, StatusJson, Time,
};
use super::{Admin, AdminResult};
use crate::rotation::engine::{ScheduleOutcome, Trigger};

impl Admin {
    /// Every key's status, or one key's when `key` is given (empty means every key).
    pub(crate) async fn status(&self, key: Option<&str>) -> AdminResult<StatusJson> {
        let manager = self.engine.manager();
        let snapshots = manager.snapshots(given(key)).await?;
        let now = manager.now();
        Ok(StatusJson {
            generated_at: Time(now),
            keys: snapshots
                .iter()
                .map(|s| KeyStatusJson::new(s, now))
                .collect(),
        })
    }

    /// When each key is due and when the scheduler runs next.
    pub(crate) async fn schedule(&self) -> AdminResult<ScheduleJson> {
        let manager = self.engine.manager();
        let snapshots = manager.snapshots(None).await?;
        let now = manager.now();
        let next_run = self.scheduler.next_run(now);
        Ok(ScheduleJson {
            scheduler_enabled: next_run.is_some(),
            cron: self.engine.settings().schedule_cron.clone(),
            next_run: next_run.map(Time),
            keys: snapshots
                .iter()
                .map(|s| KeyScheduleJson::new(s, now))
                .collect(),
        })
    }

    /// The runbook's "schedule rotation": rotate now if due, or at once with `force`.
    pub(crate) async fn schedule_rotation(
        &self,
        key: &str,
        force: bool,
        actor: &str,
    ) -> AdminResult<ScheduledJson> {
        let outcome = self.engine.schedule_rotation(key, force, actor).await?;
        Ok(match outcome {
            ScheduleOutcome::Rotated(event) => ScheduledJson {
                rotated: true,
                event: Some(EventJson::from(event.as_ref())),
                reason: None,
            },
            ScheduleOutcome::NotDue(reason) => ScheduledJson {
                rotated: false,
                event: None,
                reason: Some(reason),
            },
        })
    }

    /// KeyService.Rotate: a manual rotation, refused when too recent unless `force`.
    pub(crate) async fn rotate(
        &self,
        key: &str,
        force: bool,
        actor: &str,
    ) -> AdminResult<RotatedJson> {
        let guard = self.engine.manager().manual_guard(force);
        let trigger = if force {
            Trigger::Emergency
        } else {
            Trigger::Manual
        };
        let (rotated, event) = self.engine.rotate(key, guard, trigger, actor).await?;
        Ok(RotatedJson {
            key_type: key.to_owned(),
            new_version: rotated.new_version,
            previous_version: rotated.previous_version,
            event_id: event.id,
        })
    }

    /// Makes the previous version primary again.
    pub(crate) async fn rollback_key(&self, key: &str, actor: &str) -> AdminResult<RolledBackJson> {
        let (rolled, event) = self.engine.rollback_key(key, actor).await?;
        Ok(RolledBackJson {
            key_type: key.to_owned(),
            primary_version: rolled.primary_version,
            rolled_back_version: rolled.rolled_back_version,
            event_id: event.id,
        })
    }

    /// How many stored records each version of `key` still protects.
    pub(crate) async fn impact(&self, key: &str) -> AdminResult<ImpactJson> {
        let impact = self.engine.impact(key).await?;
        Ok(ImpactJson::new(key, &impact))
    }
}
