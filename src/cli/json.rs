//! `--json` output: the protobuf answers mapped into the admin core's views, so that the CLI
//! prints the same shapes as the HTTP API (times RFC 3339, durations whole `*_secs`, enums as
//! words, the runbook's `key_type`).

use super::exit::CliError;
use crate::admin::views::{
    AuditRecordJson, AuditVerifyJson, CountsJson, EventJson, ImpactJson, KeyScheduleJson,
    KeyStatusJson, RolledBackJson, ScheduleJson, ScheduledJson, Secs, StatusJson, TargetImpactJson,
    TargetProgressJson, Time, TokenJson, VersionJson, VersionRecordsJson,
};
use crate::api::convert::millis;
use crate::proto;

/// A proto enum value's name without its prefix, in lower case, as the views spell it
/// (`ROTATION_EVENT_STATUS_IN_PROGRESS` → "in_progress"); "unspecified" for a number this CLI
/// does not know.
fn word(name: Option<&'static str>, prefix: &str) -> String {
    name.and_then(|n| n.strip_prefix(prefix))
        .unwrap_or("unspecified")
        .to_ascii_lowercase()
}

pub(super) fn purpose(value: i32) -> String {
    let name = proto::KeyPurpose::try_from(value)
        .ok()
        .map(|p| p.as_str_name());
    word(name, "KEY_PURPOSE_")
}

pub(super) fn state(value: i32) -> String {
    let name = proto::KeyVersionState::try_from(value)
        .ok()
        .map(|s| s.as_str_name());
    word(name, "KEY_VERSION_STATE_")
}

/// "OK", "WARNING" or "CRITICAL", as in the reports.
pub(super) fn alert(value: i32) -> String {
    let name = proto::AlertLevel::try_from(value)
        .ok()
        .map(|a| a.as_str_name());
    word(name, "ALERT_LEVEL_").to_ascii_uppercase()
}

pub(super) fn event_status(value: i32) -> String {
    let name = proto::RotationEventStatus::try_from(value)
        .ok()
        .map(|s| s.as_str_name());
    word(name, "ROTATION_EVENT_STATUS_")
}

pub(super) fn trigger(value: i32) -> String {
    let name = proto::RotationTrigger::try_from(value)
        .ok()
        .map(|t| t.as_str_name());
    word(name, "ROTATION_TRIGGER_")
}

/// A status word of `rekey events list --status` as the proto value.
pub(super) fn event_status_value(word: &str) -> Result<i32, CliError> {
    let name = format!("ROTATION_EVENT_STATUS_{}", word.to_ascii_uppercase());
    proto::RotationEventStatus::from_str_name(&name)
        .map(|s| s as i32)
        .ok_or_else(|| CliError::usage(format!("unknown event status {word:?}")))
}

/// The event an ExecuteEvent/RetryEvent/RollbackEvent/GetEvent answer carries; an answer
/// without one (a server bug) is an error rather than an empty event.
pub(super) fn answered_event(
    event: Option<proto::RotationEvent>,
) -> Result<proto::RotationEvent, CliError> {
    event.ok_or_else(|| CliError::failed("the server's answer has no event in it"))
}

pub(super) fn role(value: i32) -> String {
    let name = proto::TokenRole::try_from(value)
        .ok()
        .map(|r| r.as_str_name());
    word(name, "TOKEN_ROLE_")
}

pub(super) fn time(ts: Option<&prost_types::Timestamp>) -> Option<Time> {
    ts.map(|t| Time(millis(t)))
}

/// A time the server always sets; the epoch if a server left it out.
pub(super) fn set_time(ts: Option<&prost_types::Timestamp>) -> Time {
    time(ts).unwrap_or(Time(0))
}

pub(super) fn secs(d: Option<&prost_types::Duration>) -> Secs {
    d.map_or(Secs(0), |d| {
        Secs(millis(&prost_types::Timestamp {
            seconds: d.seconds,
            nanos: d.nanos,
        }))
    })
}

pub(super) fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

pub(super) fn status(reply: &proto::GetStatusResponse) -> StatusJson {
    StatusJson {
        generated_at: set_time(reply.generated_at.as_ref()),
        keys: reply.keys.iter().map(key_status).collect(),
    }
}

fn key_status(k: &proto::KeyStatus) -> KeyStatusJson {
    let policy = k.policy.as_ref();
    KeyStatusJson {
        key_type: k.key_name.clone(),
        purpose: purpose(k.purpose),
        algorithm: k.algorithm.clone(),
        rotation_interval_secs: secs(policy.and_then(|p| p.rotation_interval.as_ref())),
        grace_period_secs: secs(policy.and_then(|p| p.grace_period.as_ref())),
        primary_version: k.primary_version,
        primary_age_secs: secs(k.primary_age.as_ref()),
        last_rotation: k
            .versions
            .iter()
            .find(|v| v.version == k.primary_version)
            .map_or(Time(0), |v| set_time(v.created_at.as_ref())),
        next_rotation_due: set_time(k.next_rotation_due.as_ref()),
        alert_level: alert(k.alert_level),
        alert_reason: k.alert_reason.clone(),
        versions: k
            .versions
            .iter()
            .map(|v| VersionJson {
                version: v.version,
                state: state(v.state),
                created_at: set_time(v.created_at.as_ref()),
                deprecated_at: time(v.deprecated_at.as_ref()),
                retired_at: time(v.retired_at.as_ref()),
                check_value: v.check_value.clone(),
                age_secs: secs(v.age.as_ref()),
            })
            .collect(),
    }
}

fn versions(v: &[proto::VersionImpact]) -> Vec<VersionRecordsJson> {
    v.iter()
        .map(|v| VersionRecordsJson {
            version: v.version,
            records: v.records,
        })
        .collect()
}

pub(super) fn impact(i: &proto::GetImpactResponse) -> ImpactJson {
    ImpactJson {
        key_type: i.key_name.clone(),
        primary_version: i.primary_version,
        records_to_migrate: i.records_to_migrate,
        versions: versions(&i.versions),
        targets: i
            .targets
            .iter()
            .map(|t| TargetImpactJson {
                target: t.target.clone(),
                versions: versions(&t.versions),
                unreadable: t.unreadable,
            })
            .collect(),
    }
}

pub(super) fn counts(c: Option<&proto::MigrationCounts>) -> CountsJson {
    let c = c.copied().unwrap_or_default();
    CountsJson {
        total: c.total,
        migrated: c.migrated,
        already_current: c.already_current,
        skipped: c.skipped,
        failed: c.failed,
    }
}

pub(super) fn event(e: &proto::RotationEvent) -> EventJson {
    EventJson {
        event_id: e.event_id.clone(),
        key_type: e.key_name.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        trigger: trigger(e.trigger),
        actor: e.actor.clone(),
        status: event_status(e.status),
        rolling_back: e.rolling_back,
        created_at: set_time(e.created_at.as_ref()),
        started_at: time(e.started_at.as_ref()),
        finished_at: time(e.finished_at.as_ref()),
        batch_size: e.batch_size,
        rate_limit: e.rate_limit,
        records_per_second: e.records_per_second,
        work_records_per_second: e.work_records_per_second,
        last_error: text(&e.last_error),
        totals: counts(e.totals.as_ref()),
        targets: e
            .targets
            .iter()
            .map(|t| TargetProgressJson {
                target: t.target.clone(),
                counts: counts(t.counts.as_ref()),
                checkpoint: text(&t.checkpoint),
                done: t.done,
                failed_ids: t.failed_ids.clone(),
            })
            .collect(),
    }
}

pub(super) fn events(events: &[proto::RotationEvent]) -> Vec<EventJson> {
    events.iter().map(event).collect()
}

/// `reason` as the CLI words it (the server's hint names the gRPC field).
pub(super) fn scheduled(reply: &proto::ScheduleRotationResponse, reason: &str) -> ScheduledJson {
    ScheduledJson {
        rotated: reply.rotated,
        event: reply.event.as_ref().map(event),
        reason: text(reason),
    }
}

pub(super) fn rolled_back(reply: &proto::RollbackResponse) -> RolledBackJson {
    RolledBackJson {
        key_type: reply.key_name.clone(),
        primary_version: reply.primary_version,
        rolled_back_version: reply.rolled_back_version,
        event_id: reply.event_id.clone(),
    }
}

pub(super) fn schedule(s: &proto::GetScheduleResponse) -> ScheduleJson {
    ScheduleJson {
        scheduler_enabled: s.scheduler_enabled,
        cron: s.cron.clone(),
        next_run: time(s.next_run.as_ref()),
        keys: s
            .keys
            .iter()
            .map(|k| KeyScheduleJson {
                key_type: k.key_name.clone(),
                primary_version: k.primary_version,
                last_rotation: set_time(k.last_rotation.as_ref()),
                next_rotation_due: set_time(k.next_rotation_due.as_ref()),
                rotation_interval_secs: secs(k.rotation_interval.as_ref()),
                grace_period_secs: secs(k.grace_period.as_ref()),
                due: k.due,
            })
            .collect(),
    }
}

pub(super) fn token(t: &proto::TokenInfo) -> TokenJson {
    TokenJson {
        token_id: t.token_id.clone(),
        name: t.name.clone(),
        role: role(t.role),
        key_names: t.key_names.clone(),
        operations: t.operations.clone(),
        created_at: set_time(t.created_at.as_ref()),
        created_by: t.created_by.clone(),
        expires_at: time(t.expires_at.as_ref()),
        revoked_at: time(t.revoked_at.as_ref()),
    }
}

pub(super) fn audit_record(r: &proto::AuditRecord) -> AuditRecordJson {
    AuditRecordJson {
        seq: r.seq,
        at: set_time(r.at.as_ref()),
        principal: r.principal.clone(),
        operation: r.operation.clone(),
        key_name: text(&r.key_name),
        key_version: (r.key_version > 0).then_some(r.key_version),
        event_id: text(&r.event_id),
        outcome: r.outcome.clone(),
        records: r.records,
        detail: r.detail.clone(),
        request_id: text(&r.request_id),
        prev_hash: r.prev_hash.clone(),
        hash: r.hash.clone(),
    }
}

pub(super) fn verify(v: &proto::VerifyAuditResponse) -> AuditVerifyJson {
    AuditVerifyJson {
        rows: v.rows,
        intact: v.intact,
        first_fault: text(&v.first_fault),
        fault_seq: (!v.intact).then_some(v.fault_seq),
        head_hash: v.head_hash.clone(),
    }
}
