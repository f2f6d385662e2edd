//! Key queries and commands: status, schedule, impact, rotate, schedule a rotation, roll back.

use super::query::given;
use super::views::{
    EventJson, ImpactJson, KeyScheduleJson, KeyStatusJson, RolledBackJson, RotatedJson,
    ScheduleJson, ScheduledJson, StatusJson, Time,
};
use super::{Admin, AdminResult, InvalidInput};
use crate::keystore::store::VersionState;
use crate::keystore::KeyError;
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
                event: Some(EventJson::new(event.as_ref(), self.now())),
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

    /// Retires every version of `key` below `min` (Transit's `min_decryption_version`), each
    /// audited as done by `actor`. Refused, retiring nothing, when `min` is above the primary,
    /// below the versions already retired (retirement is never undone), or when the key's
    /// migration targets still hold values under a version it would retire. Returns the
    /// versions it retired.
    pub(crate) async fn retire_versions_below(
        &self,
        key: &str,
        min: u32,
        actor: &str,
    ) -> AdminResult<Vec<u32>> {
        let manager = self.engine.manager();
        let snapshot = manager
            .snapshots(Some(key))
            .await?
            .pop()
            .ok_or_else(|| KeyError::KeyNotFound(key.to_owned()))?;
        let primary = snapshot.record.primary_version;
        let current = snapshot.min_usable_version();
        if min > primary {
            return Err(InvalidInput::MinVersionAboveLatest {
                key: key.to_owned(),
                asked: min,
                latest: primary,
            }
            .into());
        }
        if min < current {
            return Err(InvalidInput::MinVersionLowered {
                key: key.to_owned(),
                asked: min,
                current,
            }
            .into());
        }
        let doomed: Vec<u32> = snapshot
            .versions
            .iter()
            .filter(|v| v.version < min && v.state != VersionState::Retired)
            .map(|v| v.version)
            .collect();
        if doomed.is_empty() {
            return Ok(doomed);
        }
        let in_use: Vec<(u32, u64)> = self
            .engine
            .impact(key)
            .await?
            .by_version()
            .into_iter()
            .filter(|(v, n)| *n > 0 && doomed.contains(v))
            .collect();
        if !in_use.is_empty() {
            return Err(InvalidInput::VersionsStillInUse {
                key: key.to_owned(),
                asked: min,
                records: in_use.iter().map(|(_, n)| n).sum(),
                by_version: in_use
                    .iter()
                    .map(|(v, n)| format!("v{v}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        for version in &doomed {
            manager.retire_version(key, *version, actor).await?;
        }
        Ok(doomed)
    }
}
