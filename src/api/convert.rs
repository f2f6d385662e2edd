//! The admin core's views (and a few domain values) to protobuf messages. The views are the
//! one projection of each answer; this file only changes their encoding.

use crate::admin::views::{
    AuditRecordJson, CountsJson, EventJson, ImpactJson, KeyScheduleJson, KeyStatusJson, Secs,
    StatusJson, Time, TokenJson, VersionRecordsJson,
};
use crate::clock::Millis;
use crate::clock::MILLIS_PER_SEC;
use crate::proto;

pub(crate) fn timestamp(ms: Millis) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(MILLIS_PER_SEC),
        nanos: (ms.rem_euclid(MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

pub(crate) fn time(t: Time) -> prost_types::Timestamp {
    timestamp(t.0)
}

pub(crate) fn duration_ms(ms: Millis) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / MILLIS_PER_SEC,
        nanos: ((ms % MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

pub(crate) fn duration(d: Secs) -> prost_types::Duration {
    duration_ms(d.0)
}

/// A word of the views ("encrypt_decrypt", "active", "OK") as the proto enum value named
/// `prefix` + the word in capitals (`KEY_PURPOSE_ENCRYPT_DECRYPT`); 0, the unspecified value,
/// for a word the proto does not name.
fn enum_value<E: Into<i32>>(
    prefix: &str,
    word: &str,
    from_name: impl Fn(&str) -> Option<E>,
) -> i32 {
    from_name(&format!("{prefix}{}", word.to_ascii_uppercase())).map_or(0, Into::into)
}

/// A proto enum value a client sent, as the admin core's lowercase word (`..._IN_PROGRESS` →
/// "in_progress"): `Ok(None)` for 0 (unspecified), and an error naming the field for a number
/// this server's proto does not define (a newer client, or a hand-made request).
pub(crate) fn enum_word(
    field: &str,
    value: i32,
    prefix: &str,
    name_of: impl Fn(i32) -> Option<&'static str>,
) -> Result<Option<String>, tonic::Status> {
    if value == 0 {
        return Ok(None);
    }
    name_of(value)
        .and_then(|name| name.strip_prefix(prefix))
        .map(|word| Some(word.to_ascii_lowercase()))
        .ok_or_else(|| {
            tonic::Status::invalid_argument(format!(
                "{field} {value} is not a value this server knows; use one of the {prefix}* values"
            ))
        })
}

pub(crate) fn event_status(word: &str) -> i32 {
    enum_value(
        "ROTATION_EVENT_STATUS_",
        word,
        proto::RotationEventStatus::from_str_name,
    )
}

pub(crate) fn trigger(word: &str) -> i32 {
    enum_value(
        "ROTATION_TRIGGER_",
        word,
        proto::RotationTrigger::from_str_name,
    )
}

pub(crate) fn role(word: &str) -> i32 {
    enum_value("TOKEN_ROLE_", word, proto::TokenRole::from_str_name)
}

pub(crate) fn purpose(word: &str) -> i32 {
    enum_value("KEY_PURPOSE_", word, proto::KeyPurpose::from_str_name)
}

pub(crate) fn version_state(word: &str) -> i32 {
    enum_value(
        "KEY_VERSION_STATE_",
        word,
        proto::KeyVersionState::from_str_name,
    )
}

pub(crate) fn alert_level(word: &str) -> i32 {
    enum_value("ALERT_LEVEL_", word, proto::AlertLevel::from_str_name)
}

pub(crate) fn status(s: &StatusJson) -> proto::GetStatusResponse {
    proto::GetStatusResponse {
        keys: s.keys.iter().map(key_status).collect(),
        generated_at: Some(time(s.generated_at)),
    }
}

fn key_status(k: &KeyStatusJson) -> proto::KeyStatus {
    proto::KeyStatus {
        key_name: k.key_type.clone(),
        purpose: purpose(&k.purpose),
        algorithm: k.algorithm.clone(),
        policy: Some(proto::KeyPolicy {
            rotation_interval: Some(duration(k.rotation_interval_secs)),
            grace_period: Some(duration(k.grace_period_secs)),
        }),
        primary_version: k.primary_version,
        versions: k
            .versions
            .iter()
            .map(|v| proto::KeyVersionStatus {
                version: v.version,
                state: version_state(&v.state),
                created_at: Some(time(v.created_at)),
                deprecated_at: v.deprecated_at.map(time),
                retired_at: v.retired_at.map(time),
                check_value: v.check_value.clone(),
                age: Some(duration(v.age_secs)),
            })
            .collect(),
        primary_age: Some(duration(k.primary_age_secs)),
        next_rotation_due: Some(time(k.next_rotation_due)),
        alert_level: alert_level(&k.alert_level),
        alert_reason: k.alert_reason.clone(),
    }
}

pub(crate) fn counts(c: &CountsJson) -> proto::MigrationCounts {
    proto::MigrationCounts {
        total: c.total,
        migrated: c.migrated,
        already_current: c.already_current,
        skipped: c.skipped,
        failed: c.failed,
    }
}

pub(crate) fn event(e: &EventJson) -> proto::RotationEvent {
    proto::RotationEvent {
        event_id: e.event_id.clone(),
        key_name: e.key_type.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        trigger: trigger(&e.trigger),
        actor: e.actor.clone(),
        status: event_status(&e.status),
        rolling_back: e.rolling_back,
        created_at: Some(time(e.created_at)),
        started_at: e.started_at.map(time),
        finished_at: e.finished_at.map(time),
        batch_size: e.batch_size,
        rate_limit: e.rate_limit,
        records_per_second: e.records_per_second,
        work_records_per_second: e.work_records_per_second,
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
        totals: Some(counts(&e.totals)),
    }
}

fn version_impacts(versions: &[VersionRecordsJson]) -> Vec<proto::VersionImpact> {
    versions
        .iter()
        .map(|v| proto::VersionImpact {
            version: v.version,
            records: v.records,
        })
        .collect()
}

pub(crate) fn impact(i: &ImpactJson) -> proto::GetImpactResponse {
    proto::GetImpactResponse {
        key_name: i.key_type.clone(),
        primary_version: i.primary_version,
        versions: version_impacts(&i.versions),
        targets: i
            .targets
            .iter()
            .map(|t| proto::TargetImpact {
                target: t.target.clone(),
                versions: version_impacts(&t.versions),
                unreadable: t.unreadable,
            })
            .collect(),
        records_to_migrate: i.records_to_migrate,
    }
}

pub(crate) fn key_schedule(k: &KeyScheduleJson) -> proto::KeySchedule {
    proto::KeySchedule {
        key_name: k.key_type.clone(),
        primary_version: k.primary_version,
        last_rotation: Some(time(k.last_rotation)),
        next_rotation_due: Some(time(k.next_rotation_due)),
        rotation_interval: Some(duration(k.rotation_interval_secs)),
        grace_period: Some(duration(k.grace_period_secs)),
        due: k.due,
    }
}

pub(crate) fn token_info(t: &TokenJson) -> proto::TokenInfo {
    proto::TokenInfo {
        token_id: t.token_id.clone(),
        name: t.name.clone(),
        role: role(&t.role),
        key_names: t.key_names.clone(),
        operations: t.operations.clone(),
        created_at: Some(time(t.created_at)),
        created_by: t.created_by.clone(),
        expires_at: t.expires_at.map(time),
        revoked_at: t.revoked_at.map(time),
    }
}

pub(crate) fn audit_record(r: &AuditRecordJson) -> proto::AuditRecord {
    proto::AuditRecord {
        seq: r.seq,
        at: Some(time(r.at)),
        principal: r.principal.clone(),
        operation: r.operation.clone(),
        key_name: r.key_name.clone().unwrap_or_default(),
        key_version: r.key_version.unwrap_or(0),
        outcome: r.outcome.clone(),
        records: r.records,
        detail: r.detail.clone(),
        request_id: r.request_id.clone().unwrap_or_default(),
        prev_hash: r.prev_hash.clone(),
        hash: r.hash.clone(),
        event_id: r.event_id.clone().unwrap_or_default(),
    }
}

/// Milliseconds of a protobuf time.
pub(crate) fn millis(t: &prost_types::Timestamp) -> Millis {
    t.seconds.saturating_mul(MILLIS_PER_SEC) + i64::from(t.nanos / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word the views use has a proto value, so nothing reaches a client as unspecified.
    #[test]
    fn every_view_word_has_a_proto_enum_value() {
        for word in [
            "pending",
            "in_progress",
            "completed",
            "failed",
            "rolled_back",
        ] {
            assert_ne!(event_status(word), 0, "{word}");
        }
        for word in ["scheduled", "manual", "emergency", "rollback"] {
            assert_ne!(trigger(word), 0, "{word}");
        }
        assert_eq!(role("admin"), proto::TokenRole::Admin as i32);
        assert_eq!(role("client"), proto::TokenRole::Client as i32);
        assert_eq!(trigger("no-such-trigger"), 0);
    }

    #[test]
    fn enum_words_round_trip_and_unknown_numbers_are_refused() {
        let name_of = |v: i32| {
            proto::RotationEventStatus::try_from(v)
                .ok()
                .map(|s| s.as_str_name())
        };
        let prefix = "ROTATION_EVENT_STATUS_";
        assert_eq!(enum_word("status", 0, prefix, name_of).unwrap(), None);
        let in_progress = proto::RotationEventStatus::InProgress as i32;
        assert_eq!(
            enum_word("status", in_progress, prefix, name_of).unwrap(),
            Some("in_progress".to_owned())
        );
        assert_eq!(event_status("in_progress"), in_progress);
        let err = enum_word("status", 99, prefix, name_of).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("status 99"), "{}", err.message());
    }
}
