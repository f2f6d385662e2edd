//! `--json` output: protobuf messages as JSON objects with the proto field names, times as
//! RFC 3339 strings, durations in seconds, enums as words.

use serde_json::{json, Map, Value};

use super::output::{rfc3339, seconds};
use crate::proto;

pub(super) fn purpose(value: i32) -> String {
    proto::KeyPurpose::try_from(value)
        .map_or("unspecified", |p| p.as_str_name())
        .to_ascii_lowercase()
}

pub(super) fn state(value: i32) -> String {
    proto::KeyVersionState::try_from(value)
        .map_or("unspecified", |s| s.as_str_name())
        .to_ascii_lowercase()
}

/// "OK", "WARNING" or "CRITICAL", as in the reports.
pub(super) fn alert(value: i32) -> String {
    proto::AlertLevel::try_from(value)
        .map_or("UNSPECIFIED", |a| a.as_str_name())
        .to_owned()
}

pub(super) fn key_status(k: &proto::KeyStatus) -> Value {
    let policy = k.policy.as_ref();
    json!({
        "key_name": k.key_name,
        "purpose": purpose(k.purpose),
        "algorithm": k.algorithm,
        "rotation_interval_secs": seconds(policy.and_then(|p| p.rotation_interval.as_ref())),
        "grace_period_secs": seconds(policy.and_then(|p| p.grace_period.as_ref())),
        "primary_version": k.primary_version,
        "primary_age_secs": seconds(k.primary_age.as_ref()),
        "next_rotation_due": rfc3339(k.next_rotation_due.as_ref()),
        "alert_level": alert(k.alert_level),
        "alert_reason": k.alert_reason,
        "versions": k.versions.iter().map(|v| json!({
            "version": v.version,
            "state": state(v.state),
            "created_at": rfc3339(v.created_at.as_ref()),
            "deprecated_at": rfc3339(v.deprecated_at.as_ref()),
            "retired_at": rfc3339(v.retired_at.as_ref()),
            "check_value": v.check_value,
            "age_secs": seconds(v.age.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

fn versions(v: &[proto::VersionImpact]) -> Value {
    v.iter()
        .map(|v| json!({"version": v.version, "records": v.records}))
        .collect()
}

pub(super) fn impact(i: &proto::GetImpactResponse) -> Value {
    json!({
        "key_name": i.key_name,
        "primary_version": i.primary_version,
        "versions": versions(&i.versions),
        "targets": i.targets.iter().map(|t| json!({
            "target": t.target,
            "versions": versions(&t.versions),
            "unreadable": t.unreadable,
        })).collect::<Vec<_>>(),
        "records_to_migrate": i.records_to_migrate,
    })
}

pub(super) fn counts(c: Option<&proto::MigrationCounts>) -> Value {
    let c = c.copied().unwrap_or_default();
    json!({
        "total": c.total,
        "migrated": c.migrated,
        "already_current": c.already_current,
        "skipped": c.skipped,
        "failed": c.failed,
    })
}

pub(super) fn event(e: &proto::RotationEvent) -> Value {
    json!({
        "event_id": e.event_id,
        "key_name": e.key_name,
        "from_version": e.from_version,
        "to_version": e.to_version,
        "trigger": e.trigger,
        "actor": e.actor,
        "status": e.status,
        "rolling_back": e.rolling_back,
        "created_at": rfc3339(e.created_at.as_ref()),
        "started_at": rfc3339(e.started_at.as_ref()),
        "finished_at": rfc3339(e.finished_at.as_ref()),
        "batch_size": e.batch_size,
        "rate_limit": e.rate_limit,
        "records_per_second": e.records_per_second,
        "last_error": e.last_error,
        "targets": e.targets.iter().map(|t| json!({
            "target": t.target,
            "counts": counts(t.counts.as_ref()),
            "checkpoint": t.checkpoint,
            "done": t.done,
            "failed_ids": t.failed_ids,
        })).collect::<Vec<_>>(),
        "totals": counts(e.totals.as_ref()),
    })
}

pub(super) fn schedule(s: &proto::GetScheduleResponse) -> Value {
    json!({
        "scheduler_enabled": s.scheduler_enabled,
        "cron": s.cron,
        "next_run": rfc3339(s.next_run.as_ref()),
        "keys": s.keys.iter().map(|k| json!({
            "key_name": k.key_name,
            "primary_version": k.primary_version,
            "last_rotation": rfc3339(k.last_rotation.as_ref()),
            "next_rotation_due": rfc3339(k.next_rotation_due.as_ref()),
            "rotation_interval_secs": seconds(k.rotation_interval.as_ref()),
            "grace_period_secs": seconds(k.grace_period.as_ref()),
            "due": k.due,
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn token(t: &proto::TokenInfo) -> Value {
    json!({
        "token_id": t.token_id,
        "name": t.name,
        "role": t.role,
        "key_names": t.key_names,
        "operations": t.operations,
        "created_at": rfc3339(t.created_at.as_ref()),
        "created_by": t.created_by,
        "expires_at": rfc3339(t.expires_at.as_ref()),
        "revoked_at": rfc3339(t.revoked_at.as_ref()),
    })
}

pub(super) fn audit_record(r: &proto::AuditRecord) -> Value {
    json!({
        "seq": r.seq,
        "at": rfc3339(r.at.as_ref()),
        "principal": r.principal,
        "operation": r.operation,
        "key_name": r.key_name,
        "key_version": r.key_version,
        "outcome": r.outcome,
        "records": r.records,
        "detail": r.detail,
        "request_id": r.request_id,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    })
}

pub(super) fn verify(v: &proto::VerifyAuditResponse) -> Value {
    json!({
        "rows": v.rows,
        "intact": v.intact,
        "first_fault": v.first_fault,
        "fault_seq": v.fault_seq,
        "head_hash": v.head_hash,
    })
}

/// A `google.protobuf.Struct` as a JSON object. Whole numbers become integers (protobuf
/// carries every number as a double).
pub(super) fn from_struct(s: prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .into_iter()
            .map(|(k, v)| (k, from_value(v)))
            .collect::<Map<_, _>>(),
    )
}

fn from_value(v: prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
            }
        }
        Some(Kind::StructValue(s)) => from_struct(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(from_value).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::value::Kind;

    #[test]
    fn structs_become_json_with_integers_kept_whole() {
        let num = |n| prost_types::Value {
            kind: Some(Kind::NumberValue(n)),
        };
        let s = prost_types::Struct {
            fields: [
                ("count".to_owned(), num(3.0)),
                ("rate".to_owned(), num(0.5)),
                (
                    "list".to_owned(),
                    prost_types::Value {
                        kind: Some(Kind::ListValue(prost_types::ListValue {
                            values: vec![prost_types::Value {
                                kind: Some(Kind::StringValue("a".into())),
                            }],
                        })),
                    },
                ),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(
            from_struct(s),
            json!({"count": 3, "rate": 0.5, "list": ["a"]})
        );
    }
}
