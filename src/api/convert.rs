//! Domain values to protobuf messages.

use crate::clock::Millis;
use crate::clock::MILLIS_PER_SEC;
use crate::keystore::lifecycle::{self, AlertLevel};
use crate::keystore::manager::{algorithm, KeySnapshot};
use crate::keystore::store::{Purpose, VersionState};
use crate::proto;
use crate::rotation::engine::Impact;
use crate::rotation::events::{Counts, RotationEvent};

pub(crate) fn timestamp(ms: Millis) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(MILLIS_PER_SEC),
        nanos: (ms.rem_euclid(MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

pub(crate) fn duration_ms(ms: Millis) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / MILLIS_PER_SEC,
        nanos: ((ms % MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

fn purpose(p: Purpose) -> proto::KeyPurpose {
    match p {
        Purpose::EncryptDecrypt => proto::KeyPurpose::EncryptDecrypt,
        Purpose::SignVerify => proto::KeyPurpose::SignVerify,
    }
}

fn state(s: VersionState) -> proto::KeyVersionState {
    match s {
        VersionState::Active => proto::KeyVersionState::Active,
        VersionState::Deprecated => proto::KeyVersionState::Deprecated,
        VersionState::Retired => proto::KeyVersionState::Retired,
    }
}

fn alert(level: AlertLevel) -> proto::AlertLevel {
    match level {
        AlertLevel::Ok => proto::AlertLevel::Ok,
        AlertLevel::Warning => proto::AlertLevel::Warning,
        AlertLevel::Critical => proto::AlertLevel::Critical,
    }
}

pub(crate) fn key_status(snapshot: &KeySnapshot, now: Millis) -> proto::KeyStatus {
    let record = &snapshot.record;
    let assessment = lifecycle::assess_key(
        record.policy,
        snapshot.primary_created_at(),
        &snapshot.versions,
        now,
    );
    proto::KeyStatus {
        key_name: record.name.clone(),
        purpose: purpose(record.purpose).into(),
        algorithm: algorithm(record.purpose).to_owned(),
        policy: Some(proto::KeyPolicy {
            rotation_interval: Some(duration_ms(
                record.policy.rotation_interval_secs * MILLIS_PER_SEC,
            )),
            grace_period: Some(duration_ms(
                record.policy.grace_period_secs * MILLIS_PER_SEC,
            )),
        }),
        primary_version: record.primary_version,
        versions: snapshot
            .versions
            .iter()
            .map(|v| proto::KeyVersionStatus {
                version: v.version,
                state: state(v.state).into(),
                created_at: Some(timestamp(v.created_at)),
                deprecated_at: v.deprecated_at.map(timestamp),
                retired_at: v.retired_at.map(timestamp),
                check_value: v.check_value.clone(),
                age: Some(duration_ms((now - v.created_at).max(0))),
            })
            .collect(),
        primary_age: Some(duration_ms(assessment.primary_age_ms)),
        next_rotation_due: Some(timestamp(assessment.next_rotation_due)),
        alert_level: alert(assessment.level).into(),
        alert_reason: assessment.reason,
    }
}

pub(crate) fn counts(c: &Counts) -> proto::MigrationCounts {
    proto::MigrationCounts {
        total: c.total,
        migrated: c.migrated,
        already_current: c.already_current,
        skipped: c.skipped,
        failed: c.failed,
    }
}

pub(crate) fn event(e: &RotationEvent) -> proto::RotationEvent {
    proto::RotationEvent {
        event_id: e.id.clone(),
        key_name: e.key_name.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        trigger: e.trigger.clone(),
        actor: e.actor.clone(),
        status: e.status.as_str().to_owned(),
        rolling_back: e.rolling_back,
        created_at: Some(timestamp(e.created_at)),
        started_at: e.started_at.map(timestamp),
        finished_at: e.finished_at.map(timestamp),
        batch_size: e.batch_size,
        rate_limit: e.rate_limit,
        records_per_second: e.records_per_second(),
        last_error: e.last_error.clone().unwrap_or_default(),
        targets: e
            .targets
            .iter()
            .map(|t| proto::TargetProgress {
                target: t.target.clone(),
                counts: Some(counts(&t.counts)),
                checkpoint: t.checkpoint.clone().unwrap_or_default(),
                done: t.done,
                failed_ids: t.failed_ids.clone(),
            })
            .collect(),
        totals: Some(counts(&e.totals())),
    }
}

fn version_impacts(by_version: &std::collections::BTreeMap<u32, u64>) -> Vec<proto::VersionImpact> {
    by_version
        .iter()
        .map(|(version, records)| proto::VersionImpact {
            version: *version,
            records: *records,
        })
        .collect()
}

pub(crate) fn impact(key: &str, impact: &Impact) -> proto::GetImpactResponse {
    proto::GetImpactResponse {
        key_name: key.to_owned(),
        primary_version: impact.primary_version,
        versions: version_impacts(&impact.by_version()),
        targets: impact
            .by_target
            .iter()
            .map(|(name, counts)| proto::TargetImpact {
                target: name.clone(),
                versions: version_impacts(&counts.by_version),
                unreadable: counts.unreadable,
            })
            .collect(),
        records_to_migrate: impact.records_to_migrate(),
    }
}

pub(crate) fn key_schedule(snapshot: &KeySnapshot, now: Millis) -> proto::KeySchedule {
    let record = &snapshot.record;
    let primary_created = snapshot.primary_created_at();
    let due_at = primary_created + record.policy.rotation_interval_secs * MILLIS_PER_SEC;
    proto::KeySchedule {
        key_name: record.name.clone(),
        primary_version: record.primary_version,
        last_rotation: Some(timestamp(primary_created)),
        next_rotation_due: Some(timestamp(due_at)),
        rotation_interval: Some(duration_ms(
            record.policy.rotation_interval_secs * MILLIS_PER_SEC,
        )),
        grace_period: Some(duration_ms(
            record.policy.grace_period_secs * MILLIS_PER_SEC,
        )),
        due: due_at <= now,
    }
}

/// A JSON value as a protobuf `Value` kind (for `google.protobuf.Struct` fields).
pub(crate) fn json_to_prost(value: serde_json::Value) -> prost_types::value::Kind {
    use prost_types::value::Kind;
    match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items
                .into_iter()
                .map(|v| prost_types::Value {
                    kind: Some(json_to_prost(v)),
                })
                .collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        prost_types::Value {
                            kind: Some(json_to_prost(v)),
                        },
                    )
                })
                .collect(),
        }),
    }
}
