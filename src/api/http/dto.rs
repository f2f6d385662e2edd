//! JSON bodies of the runbook's HTTP routes. Field names follow the runbook (`key_type`,
//! `event_id`); times are RFC 3339 UTC strings.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::clock::{MILLIS_PER_SEC, SECS_PER_DAY};
use crate::keystore::lifecycle;
use crate::keystore::manager::{algorithm, KeySnapshot};
use crate::rotation::engine::Impact;
use crate::rotation::events::{Counts, RotationEvent};

pub(super) use crate::reports::rfc3339 as time;

fn days(secs: i64) -> f64 {
    secs as f64 / SECS_PER_DAY as f64
}

#[derive(Debug, Serialize)]
pub(super) struct VersionJson {
    pub version: u32,
    pub state: &'static str,
    pub created_at: String,
    pub deprecated_at: Option<String>,
    pub retired_at: Option<String>,
    pub check_value: String,
}

#[derive(Debug, Serialize)]
pub(super) struct KeyStatusJson {
    pub key_type: String,
    pub purpose: &'static str,
    pub algorithm: &'static str,
    pub rotation_interval_days: f64,
    pub grace_period_days: f64,
    pub primary_version: u32,
    pub primary_age_days: f64,
    pub last_rotation: String,
    pub next_rotation_due: String,
    pub alert_level: &'static str,
    pub alert_reason: String,
    pub versions: Vec<VersionJson>,
}

impl KeyStatusJson {
    pub(super) fn new(snapshot: &KeySnapshot, now: Millis) -> Self {
        let record = &snapshot.record;
        let created = snapshot.primary_created_at();
        let assessment = lifecycle::assess_key(record.policy, created, &snapshot.versions, now);
        Self {
            key_type: record.name.clone(),
            purpose: record.purpose.as_str(),
            algorithm: algorithm(record.purpose),
            rotation_interval_days: days(record.policy.rotation_interval_secs),
            grace_period_days: days(record.policy.grace_period_secs),
            primary_version: record.primary_version,
            primary_age_days: (assessment.primary_age_ms / MILLIS_PER_SEC) as f64
                / SECS_PER_DAY as f64,
            last_rotation: time(created),
            next_rotation_due: time(assessment.next_rotation_due),
            alert_level: assessment.level.as_str(),
            alert_reason: assessment.reason,
            versions: snapshot
                .versions
                .iter()
                .map(|v| VersionJson {
                    version: v.version,
                    state: v.state.as_str(),
                    created_at: time(v.created_at),
                    deprecated_at: v.deprecated_at.map(time),
                    retired_at: v.retired_at.map(time),
                    check_value: v.check_value.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct StatusJson {
    pub generated_at: String,
    pub keys: Vec<KeyStatusJson>,
}

#[derive(Debug, Serialize)]
pub(super) struct VersionRecordsJson {
    pub version: u32,
    pub records: u64,
}

fn records(by_version: &std::collections::BTreeMap<u32, u64>) -> Vec<VersionRecordsJson> {
    by_version
        .iter()
        .map(|(version, records)| VersionRecordsJson {
            version: *version,
            records: *records,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(super) struct TargetImpactJson {
    pub target: String,
    pub versions: Vec<VersionRecordsJson>,
    pub unreadable: u64,
}

#[derive(Debug, Serialize)]
pub(super) struct ImpactJson {
    pub key_type: String,
    pub primary_version: u32,
    pub records_to_migrate: u64,
    pub versions: Vec<VersionRecordsJson>,
    pub targets: Vec<TargetImpactJson>,
}

impl ImpactJson {
    pub(super) fn new(key: &str, impact: &Impact) -> Self {
        Self {
            key_type: key.to_owned(),
            primary_version: impact.primary_version,
            records_to_migrate: impact.records_to_migrate(),
            versions: records(&impact.by_version()),
            targets: impact
                .by_target
                .iter()
                .map(|(name, counts)| TargetImpactJson {
                    target: name.clone(),
                    versions: records(&counts.by_version),
                    unreadable: counts.unreadable,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct CountsJson {
    pub total: u64,
    pub migrated: u64,
    pub already_current: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl From<Counts> for CountsJson {
    fn from(c: Counts) -> Self {
        Self {
            total: c.total,
            migrated: c.migrated,
            already_current: c.already_current,
            skipped: c.skipped,
            failed: c.failed,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct TargetProgressJson {
    pub target: String,
    pub counts: CountsJson,
    pub checkpoint: Option<String>,
    pub done: bool,
    pub failed_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct EventJson {
    pub event_id: String,
    pub key_type: String,
    pub from_version: u32,
    pub to_version: u32,
    pub trigger: String,
    pub actor: String,
    pub status: &'static str,
    pub rolling_back: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub batch_size: u32,
    pub rate_limit: u32,
    pub records_per_second: f64,
    pub last_error: Option<String>,
    pub totals: CountsJson,
    pub targets: Vec<TargetProgressJson>,
}

impl From<&RotationEvent> for EventJson {
    fn from(e: &RotationEvent) -> Self {
        Self {
            event_id: e.id.clone(),
            key_type: e.key_name.clone(),
            from_version: e.from_version,
            to_version: e.to_version,
            trigger: e.trigger.clone(),
            actor: e.actor.clone(),
            status: e.status.as_str(),
            rolling_back: e.rolling_back,
            created_at: time(e.created_at),
            started_at: e.started_at.map(time),
            finished_at: e.finished_at.map(time),
            batch_size: e.batch_size,
            rate_limit: e.rate_limit,
            records_per_second: e.records_per_second(),
            last_error: e.last_error.clone(),
            totals: e.totals().into(),
            targets: e
                .targets
                .iter()
                .map(|t| TargetProgressJson {
                    target: t.target.clone(),
                    counts: t.counts.into(),
                    checkpoint: t.checkpoint.clone(),
                    done: t.done,
                    failed_ids: t.failed_ids.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct ScheduledJson {
    pub rotated: bool,
    pub event: Option<EventJson>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct KeyScheduleJson {
    pub key_type: String,
    pub primary_version: u32,
    pub last_rotation: String,
    pub next_rotation_due: String,
    pub due: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ScheduleJson {
    pub scheduler_enabled: bool,
    pub cron: String,
    pub next_run: Option<String>,
    pub keys: Vec<KeyScheduleJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleRequest {
    pub key_type: String,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExecuteRequest {
    pub event_id: String,
    #[serde(default)]
    pub batch_size: Option<u32>,
}
