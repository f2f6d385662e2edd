//! JSON bodies of the runbook's HTTP routes. Field names follow the runbook (`key_type`,
//! `event_id`); times are RFC 3339 UTC strings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct VersionJson {
    pub(crate) version: u32,
    /// Lifecycle state of the version.
    #[schema(value_type = String, example = "active")]
    pub(crate) state: &'static str,
    pub(crate) created_at: String,
    pub(crate) deprecated_at: Option<String>,
    pub(crate) retired_at: Option<String>,
    pub(crate) check_value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyStatusJson {
    pub(crate) key_type: String,
    #[schema(value_type = String, example = "encrypt_decrypt")]
    pub(crate) purpose: &'static str,
    #[schema(value_type = String, example = "AES-256-GCM")]
    pub(crate) algorithm: &'static str,
    pub(crate) rotation_interval_days: f64,
    pub(crate) grace_period_days: f64,
    pub(crate) primary_version: u32,
    pub(crate) primary_age_days: f64,
    pub(crate) last_rotation: String,
    pub(crate) next_rotation_due: String,
    #[schema(value_type = String, example = "OK")]
    pub(crate) alert_level: &'static str,
    pub(crate) alert_reason: String,
    pub(crate) versions: Vec<VersionJson>,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusJson {
    pub(crate) generated_at: String,
    pub(crate) keys: Vec<KeyStatusJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct VersionRecordsJson {
    pub(crate) version: u32,
    pub(crate) records: u64,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TargetImpactJson {
    pub(crate) target: String,
    pub(crate) versions: Vec<VersionRecordsJson>,
    pub(crate) unreadable: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ImpactJson {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) records_to_migrate: u64,
    pub(crate) versions: Vec<VersionRecordsJson>,
    pub(crate) targets: Vec<TargetImpactJson>,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CountsJson {
    pub(crate) total: u64,
    pub(crate) migrated: u64,
    pub(crate) already_current: u64,
    pub(crate) skipped: u64,
    pub(crate) failed: u64,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TargetProgressJson {
    pub(crate) target: String,
    pub(crate) counts: CountsJson,
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
    pub(crate) failed_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EventJson {
    pub(crate) event_id: String,
    pub(crate) key_type: String,
    pub(crate) from_version: u32,
    pub(crate) to_version: u32,
    pub(crate) trigger: String,
    pub(crate) actor: String,
    #[schema(value_type = EventStatusName)]
    pub(crate) status: &'static str,
    pub(crate) rolling_back: bool,
    pub(crate) created_at: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) batch_size: u32,
    pub(crate) rate_limit: u32,
    pub(crate) records_per_second: f64,
    pub(crate) last_error: Option<String>,
    pub(crate) totals: CountsJson,
    pub(crate) targets: Vec<TargetProgressJson>,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ScheduledJson {
    pub(crate) rotated: bool,
    pub(crate) event: Option<EventJson>,
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyScheduleJson {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) last_rotation: String,
    pub(crate) next_rotation_due: String,
    pub(crate) due: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ScheduleJson {
    pub(crate) scheduler_enabled: bool,
    pub(crate) cron: String,
    pub(crate) next_run: Option<String>,
    pub(crate) keys: Vec<KeyScheduleJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleRequest {
    /// The key to rotate.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "TOKEN_ENCRYPTION")]
    pub(crate) key_type: String,
    /// Rotate now even if the key is not due (emergency rotation).
    #[serde(default)]
    pub(crate) force: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExecuteRequest {
    /// The event to run, as returned by POST /schedule or GET /events.
    #[schema(min_length = 1, example = "evt-0123456789abcdef01234567")]
    pub(crate) event_id: String,
    /// Rows per batch from now on; omit (or null) to keep the event's batch size.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000, example = 500)]
    pub(crate) batch_size: Option<u32>,
}

/// The status of a rotation event (documentation of `EventJson::status`).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum EventStatusName {
    Pending,
    InProgress,
    Completed,
    Failed,
    RolledBack,
}

/// The `status` filter of GET /events: a status, or empty for every status.
pub(super) fn event_status_filter() -> utoipa::openapi::Object {
    string_enum(&[
        "pending",
        "in_progress",
        "completed",
        "failed",
        "rolled_back",
        "",
    ])
}

/// The `kind` of GET /report: empty means `post_rotation`.
pub(super) fn report_kind() -> utoipa::openapi::Object {
    string_enum(&[
        "post_rotation",
        "post-rotation",
        "weekly",
        "monthly",
        "quarterly",
        "",
    ])
}

fn string_enum(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}
