//! The admin answers as values: one shape per answer, whichever face shows it. The HTTP API
//! serializes them as JSON, the gRPC services map them to protobuf, and the CLI's `--json`
//! maps the protobuf it receives back into them (`from_proto.rs`), so a field cannot be named
//! or measured differently on two faces. Field names follow the runbook (`key_type`,
//! `event_id`); times are RFC 3339 UTC strings; durations are whole seconds in `*_secs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::clock::{Millis, MILLIS_PER_SEC};
use crate::keystore::lifecycle;
use crate::keystore::manager::{algorithm, KeySnapshot};
use crate::rotation::engine::Impact;
use crate::rotation::events::{Counts, RotationEvent};

pub(crate) use crate::clock::rfc3339;

/// A point in time: serialized as RFC 3339 UTC to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time(pub(crate) Millis);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

/// A length of time: serialized as whole seconds, the one duration unit of the JSON faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Secs(pub(crate) Millis);

impl Secs {
    pub(crate) fn from_secs(secs: i64) -> Self {
        Secs(secs.saturating_mul(MILLIS_PER_SEC))
    }

    pub(crate) fn whole(self) -> i64 {
        self.0.div_euclid(MILLIS_PER_SEC)
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.whole())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct VersionJson {
    pub(crate) version: u32,
    pub(crate) state: String,
    pub(crate) created_at: Time,
    pub(crate) deprecated_at: Option<Time>,
    pub(crate) retired_at: Option<Time>,
    pub(crate) check_value: String,
    pub(crate) age_secs: Secs,
}

/// A key against its rotation policy: the projection `GetStatus`, `GET .../status` and
/// `rekey status` show.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct KeyStatusJson {
    pub(crate) key_type: String,
    pub(crate) purpose: String,
    pub(crate) algorithm: String,
    pub(crate) rotation_interval_secs: Secs,
    pub(crate) grace_period_secs: Secs,
    pub(crate) primary_version: u32,
    pub(crate) primary_age_secs: Secs,
    pub(crate) last_rotation: Time,
    pub(crate) next_rotation_due: Time,
    pub(crate) alert_level: String,
    pub(crate) alert_reason: String,
    pub(crate) versions: Vec<VersionJson>,
}

impl KeyStatusJson {
    pub(crate) fn new(snapshot: &KeySnapshot, now: Millis) -> Self {
        let record = &snapshot.record;
        let created = snapshot.primary_created_at();
        let assessment = lifecycle::assess_key(record.policy, created, &snapshot.versions, now);
        Self {
            key_type: record.name.clone(),
            purpose: record.purpose.as_str().to_owned(),
            algorithm: algorithm(record.purpose).to_owned(),
            rotation_interval_secs: Secs::from_secs(record.policy.rotation_interval_secs),
            grace_period_secs: Secs::from_secs(record.policy.grace_period_secs),
            primary_version: record.primary_version,
            primary_age_secs: Secs(assessment.primary_age_ms),
            last_rotation: Time(created),
            next_rotation_due: Time(assessment.next_rotation_due),
            alert_level: assessment.level.as_str().to_owned(),
            alert_reason: assessment.reason,
            versions: snapshot
                .versions
                .iter()
                .map(|v| VersionJson {
                    version: v.version,
                    state: v.state.as_str().to_owned(),
                    created_at: Time(v.created_at),
                    deprecated_at: v.deprecated_at.map(Time),
                    retired_at: v.retired_at.map(Time),
                    check_value: v.check_value.clone(),
                    age_secs: Secs((now - v.created_at).max(0)),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct StatusJson {
    pub(crate) generated_at: Time,
    pub(crate) keys: Vec<KeyStatusJson>,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct VersionRecordsJson {
    pub(crate) version: u32,
    pub(crate) records: u64,
}

fn records(by_version: &BTreeMap<u32, u64>) -> Vec<VersionRecordsJson> {
    by_version
        .iter()
        .map(|(version, records)| VersionRecordsJson {
            version: *version,
            records: *records,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct TargetImpactJson {
    pub(crate) target: String,
    pub(crate) versions: Vec<VersionRecordsJson>,
    pub(crate) unreadable: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct ImpactJson {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) records_to_migrate: u64,
    pub(crate) versions: Vec<VersionRecordsJson>,
    pub(crate) targets: Vec<TargetImpactJson>,
}

impl ImpactJson {
    pub(crate) fn new(key: &str, impact: &Impact) -> Self {
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

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, ToSchema)]
pub(crate) struct CountsJson {
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

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct TargetProgressJson {
    pub(crate) target: String,
    pub(crate) counts: CountsJson,
    pub(crate) checkpoint: Option<String>,
    pub(crate) done: bool,
    pub(crate) failed_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct EventJson {
    pub(crate) event_id: String,
    pub(crate) key_type: String,
    pub(crate) from_version: u32,
    pub(crate) to_version: u32,
    pub(crate) trigger: String,
    pub(crate) actor: String,
    pub(crate) status: String,
    pub(crate) rolling_back: bool,
    pub(crate) created_at: Time,
    pub(crate) started_at: Option<Time>,
    pub(crate) finished_at: Option<Time>,
    pub(crate) batch_size: u32,
    pub(crate) rate_limit: u32,
    /// Records migrated per second of wall time since the migration started (until it
    /// finished or now): throttling and pauses included.
    pub(crate) records_per_second: f64,
    /// Records migrated per second of the worker's own work, waits for the rate limit left
    /// out: how fast the batches themselves run.
    pub(crate) work_records_per_second: f64,
    pub(crate) last_error: Option<String>,
    pub(crate) totals: CountsJson,
    pub(crate) targets: Vec<TargetProgressJson>,
}

impl EventJson {
    /// The event as of `now` (its effective rate runs until it finishes).
    pub(crate) fn new(e: &RotationEvent, now: Millis) -> Self {
        Self {
            event_id: e.id.clone(),
            key_type: e.key_name.clone(),
            from_version: e.from_version,
            to_version: e.to_version,
            trigger: e.trigger.clone(),
            actor: e.actor.clone(),
            status: e.status.as_str().to_owned(),
            rolling_back: e.rolling_back,
            created_at: Time(e.created_at),
            started_at: e.started_at.map(Time),
            finished_at: e.finished_at.map(Time),
            batch_size: e.batch_size,
            rate_limit: e.rate_limit,
            records_per_second: e.records_per_second(now),
            work_records_per_second: e.work_records_per_second(),
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

/// The answer to "schedule a rotation": the event it started, or why the key is not due.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct ScheduledJson {
    pub(crate) rotated: bool,
    pub(crate) event: Option<EventJson>,
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct KeyScheduleJson {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) last_rotation: Time,
    pub(crate) next_rotation_due: Time,
    pub(crate) rotation_interval_secs: Secs,
    pub(crate) grace_period_secs: Secs,
    pub(crate) due: bool,
}

impl KeyScheduleJson {
    pub(crate) fn new(snapshot: &KeySnapshot, now: Millis) -> Self {
        let policy = snapshot.record.policy;
        Self {
            key_type: snapshot.record.name.clone(),
            primary_version: snapshot.record.primary_version,
            last_rotation: Time(snapshot.primary_created_at()),
            next_rotation_due: Time(snapshot.due_at()),
            rotation_interval_secs: Secs::from_secs(policy.rotation_interval_secs),
            grace_period_secs: Secs::from_secs(policy.grace_period_secs),
            due: snapshot.due_at() <= now,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct ScheduleJson {
    pub(crate) scheduler_enabled: bool,
    pub(crate) cron: String,
    pub(crate) next_run: Option<Time>,
    pub(crate) keys: Vec<KeyScheduleJson>,
}

/// The answer to a key rollback.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct RolledBackJson {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) rolled_back_version: u32,
    pub(crate) event_id: String,
}

/// The answer to a forced or manual key rotation.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct RotatedJson {
    pub(crate) key_type: String,
    pub(crate) new_version: u32,
    pub(crate) previous_version: u32,
    pub(crate) event_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct TokenJson {
    pub(crate) token_id: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) key_names: Vec<String>,
    pub(crate) operations: Vec<String>,
    pub(crate) created_at: Time,
    pub(crate) created_by: String,
    pub(crate) expires_at: Option<Time>,
    pub(crate) revoked_at: Option<Time>,
}

/// A new token: its secret, shown once, and its record.
#[derive(Clone, Serialize, ToSchema)]
pub(crate) struct CreatedTokenJson {
    pub(crate) token: String,
    pub(crate) info: TokenJson,
}

impl fmt::Debug for CreatedTokenJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedTokenJson")
            .field("token", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct AuditRecordJson {
    pub(crate) seq: i64,
    pub(crate) at: Time,
    pub(crate) principal: String,
    pub(crate) operation: String,
    pub(crate) key_name: Option<String>,
    pub(crate) key_version: Option<u32>,
    /// The rotation event the record is about, if any.
    pub(crate) event_id: Option<String>,
    pub(crate) outcome: String,
    pub(crate) records: Option<u64>,
    pub(crate) detail: String,
    pub(crate) request_id: Option<String>,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub(crate) struct AuditVerifyJson {
    pub(crate) rows: u64,
    pub(crate) intact: bool,
    pub(crate) first_fault: Option<String>,
    pub(crate) fault_seq: Option<i64>,
    pub(crate) head_hash: String,
}

/// In the OpenAPI document a [`Time`] is an RFC 3339 UTC string.
impl PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 UTC time, to the second"))
            .into()
    }
}

impl ToSchema for Time {}

/// In the OpenAPI document a [`Secs`] is a whole number of seconds.
impl PartialSchema for Secs {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("a duration in whole seconds"))
            .into()
    }
}

impl ToSchema for Secs {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_and_durations_whole_seconds() {
        let json = serde_json::to_value((Time(86_400_000), Secs(1_999), Secs::from_secs(90)))
            .expect("serializable");
        assert_eq!(json, serde_json::json!(["1970-01-02T00:00:00Z", 1, 90]));
    }
}
