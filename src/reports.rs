//! The runbook's reports, built from rotation events and key state:
//! - `post_rotation`: per event — key, versions, duration, counts, records/second, errors;
//! - `weekly`: key status summary;
//! - `monthly`: rotation performance — success rate, records/second, error rates;
//! - `quarterly`: compliance — per key its policy, every rotation in the period, the periods
//!   its primary was overdue, and versions still in use past their grace period.
//!
//! Each report covers `[from, to)`; the default period ends now and spans 1, 7, 30 or 90 days.

use serde_json::{json, Value};

use crate::clock::Millis;
use crate::clock::{MILLIS_PER_SEC, SECS_PER_DAY};
use crate::keystore::lifecycle;
use crate::keystore::store::VersionState;
use crate::rotation::events::{EventStatus, RotationEvent};
use crate::rotation::{RotationEngine, RotationResult};

const DAY_MS: Millis = SECS_PER_DAY * MILLIS_PER_SEC;
/// Events read per report at most.
const MAX_EVENTS: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportKind {
    PostRotation,
    Weekly,
    Monthly,
    Quarterly,
}

impl ReportKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "post_rotation" | "post-rotation" => Some(ReportKind::PostRotation),
            "weekly" => Some(ReportKind::Weekly),
            "monthly" => Some(ReportKind::Monthly),
            "quarterly" => Some(ReportKind::Quarterly),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReportKind::PostRotation => "post_rotation",
            ReportKind::Weekly => "weekly",
            ReportKind::Monthly => "monthly",
            ReportKind::Quarterly => "quarterly",
        }
    }

    fn default_days(self) -> i64 {
        match self {
            ReportKind::PostRotation => 1,
            ReportKind::Weekly => 7,
            ReportKind::Monthly => 30,
            ReportKind::Quarterly => 90,
        }
    }
}

/// RFC 3339 UTC, to the second.
pub(crate) fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn event_summary(e: &RotationEvent) -> Value {
    let totals = e.totals();
    let duration_secs = match (e.started_at, e.finished_at) {
        (Some(s), Some(f)) => Some((f - s) as f64 / 1000.0),
        _ => None,
    };
    json!({
        "event_id": e.id,
        "key_type": e.key_name,
        "from_version": e.from_version,
        "to_version": e.to_version,
        "trigger": e.trigger,
        "actor": e.actor,
        "status": e.status.as_str(),
        "created_at": rfc3339(e.created_at),
        "finished_at": e.finished_at.map(rfc3339),
        "duration_secs": duration_secs,
        "records": {
            "total": totals.total,
            "migrated": totals.migrated,
            "already_current": totals.already_current,
            "skipped": totals.skipped,
            "failed": totals.failed,
        },
        "records_per_second": e.records_per_second(),
        "last_error": e.last_error,
        "failed_ids": e.targets.iter().flat_map(|t| t.failed_ids.iter().cloned()).collect::<Vec<_>>(),
    })
}

/// Builds a report as JSON.
pub(crate) async fn build(
    engine: &RotationEngine,
    kind: ReportKind,
    from: Option<Millis>,
    to: Option<Millis>,
) -> RotationResult<Value> {
    let now = engine.manager().now();
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - kind.default_days() * DAY_MS);
    let events: Vec<RotationEvent> = engine
        .list_events(None, None, MAX_EVENTS)
        .await?
        .into_iter()
        .filter(|e| e.created_at >= from && e.created_at < to)
        .collect();
    let header = json!({"kind": kind.as_str(), "from": rfc3339(from), "to": rfc3339(to), "generated_at": rfc3339(now)});
    let body = match kind {
        ReportKind::PostRotation => {
            json!({"events": events.iter().map(event_summary).collect::<Vec<_>>()})
        }
        ReportKind::Weekly => weekly(engine, now, &events).await?,
        ReportKind::Monthly => monthly(&events),
        ReportKind::Quarterly => quarterly(engine, from, to, now, &events).await?,
    };
    let mut report = header;
    if let (Value::Object(report), Value::Object(body)) = (&mut report, body) {
        report.extend(body);
    }
    Ok(report)
}

async fn weekly(
    engine: &RotationEngine,
    now: Millis,
    events: &[RotationEvent],
) -> RotationResult<Value> {
    let snapshots = engine.manager().snapshots(None).await?;
    let keys: Vec<Value> = snapshots
        .iter()
        .map(|s| {
            let a = lifecycle::assess_key(s.record.policy, s.primary_created_at(), &s.versions, now);
            json!({
                "key_type": s.record.name,
                "primary_version": s.record.primary_version,
                "primary_age_days": a.primary_age_ms / DAY_MS,
                "next_rotation_due": rfc3339(a.next_rotation_due),
                "alert_level": a.level.as_str(),
                "alert_reason": a.reason,
                "versions": s.versions.iter().map(|v| json!({"version": v.version, "state": v.state.as_str()})).collect::<Vec<_>>(),
                "rotations_in_period": events.iter().filter(|e| e.key_name == s.record.name).count(),
            })
        })
        .collect();
    Ok(json!({"keys": keys}))
}

fn monthly(events: &[RotationEvent]) -> Value {
    let finished: Vec<&RotationEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EventStatus::Completed | EventStatus::Failed | EventStatus::RolledBack
            )
        })
        .collect();
    let completed = finished
        .iter()
        .filter(|e| e.status == EventStatus::Completed)
        .count();
    let (mut total, mut failed, mut migrated, mut millis) = (0u64, 0u64, 0u64, 0i64);
    for e in events {
        let t = e.totals();
        total += t.total;
        failed += t.failed;
        migrated += t.migrated;
        millis += e.active_millis;
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    json!({
        "rotations": events.len(),
        "finished": finished.len(),
        "completed": completed,
        "failed": finished.iter().filter(|e| e.status == EventStatus::Failed).count(),
        "rolled_back": finished.iter().filter(|e| e.status == EventStatus::RolledBack).count(),
        "success_rate": ratio(completed as f64, finished.len() as f64),
        "records_migrated": migrated,
        "records_per_second": ratio(migrated as f64 * 1000.0, millis as f64),
        "record_error_rate": ratio(failed as f64, total as f64),
        "events": events.iter().map(event_summary).collect::<Vec<_>>(),
    })
}

async fn quarterly(
    engine: &RotationEngine,
    from: Millis,
    to: Millis,
    now: Millis,
    events: &[RotationEvent],
) -> RotationResult<Value> {
    let snapshots = engine.manager().snapshots(None).await?;
    let mut keys = Vec::new();
    for s in &snapshots {
        let interval_ms = s.record.policy.rotation_interval_secs * MILLIS_PER_SEC;
        let grace_ms = s.record.policy.grace_period_secs * MILLIS_PER_SEC;
        // Each version was primary from its creation until the next version's creation (or
        // now); it was overdue for any part of that beyond the rotation interval.
        let mut overdue = Vec::new();
        let mut created: Vec<Millis> = s.versions.iter().map(|v| v.created_at).collect();
        created.sort_unstable();
        for (i, start) in created.iter().enumerate() {
            let end = created.get(i + 1).copied().unwrap_or(now);
            let due = start + interval_ms;
            let (o_from, o_to) = (due.max(from), end.min(to));
            if end > due && o_to > o_from {
                overdue.push(json!({"from": rfc3339(o_from), "to": rfc3339(o_to), "days": (o_to - o_from) / DAY_MS}));
            }
        }
        let past_grace: Vec<u32> = s
            .versions
            .iter()
            .filter(|v| {
                v.state == VersionState::Deprecated
                    && v.deprecated_at.is_some_and(|d| d + grace_ms < now)
            })
            .map(|v| v.version)
            .collect();
        let impact = if past_grace.is_empty() {
            None
        } else {
            Some(engine.impact(&s.record.name).await?)
        };
        keys.push(json!({
            "key_type": s.record.name,
            "purpose": s.record.purpose.as_str(),
            "policy": {"rotation_interval_days": s.record.policy.rotation_interval_secs / SECS_PER_DAY,
                       "grace_period_days": s.record.policy.grace_period_secs / SECS_PER_DAY},
            "rotations": events.iter().filter(|e| e.key_name == s.record.name).map(event_summary).collect::<Vec<_>>(),
            "overdue_periods": overdue,
            "versions_in_use_past_grace": past_grace.iter().map(|v| json!({
                "version": v,
                "records": impact.as_ref().map_or(0, |i| i.records_on(*v)),
            })).collect::<Vec<_>>(),
            "compliant": overdue.is_empty() && past_grace.is_empty(),
        }));
    }
    Ok(json!({"standards": ["SOX", "PCI DSS", "GDPR"], "keys": keys}))
}
