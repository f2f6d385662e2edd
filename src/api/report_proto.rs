//! The runbook's reports as typed protobuf messages (`GetReportResponse`). The admin core builds
//! one `Report`; the HTTP API serializes it as JSON and this file encodes it for gRPC, field by
//! field, so the two faces cannot disagree.

use crate::admin::reports::{
    EventSummary, Monthly, OverduePeriod, QuarterlyKey, Report, ReportBody, ReportKind, WeeklyKey,
};
use crate::api::convert::{
    alert_level, counts, duration, event_status, purpose, time, timestamp, trigger, version_state,
};
use crate::proto::{self, get_report_response::Report as Body};

pub(crate) fn report(r: &Report) -> proto::GetReportResponse {
    let body = match &r.body {
        ReportBody::PostRotation { events } => Body::PostRotation(proto::PostRotationReport {
            events: events.iter().map(event).collect(),
        }),
        ReportBody::Weekly { keys } => Body::Weekly(proto::WeeklyReport {
            keys: keys.iter().map(weekly_key).collect(),
        }),
        ReportBody::Monthly(m) => Body::Monthly(monthly(m)),
        ReportBody::Quarterly { standards, keys } => Body::Quarterly(proto::QuarterlyReport {
            standards: standards.clone(),
            keys: keys.iter().map(quarterly_key).collect(),
        }),
    };
    proto::GetReportResponse {
        kind: kind(r.kind) as i32,
        start_time: Some(time(r.from)),
        end_time: Some(time(r.to)),
        generated_at: Some(time(r.generated_at)),
        report: Some(body),
    }
}

pub(crate) fn kind(k: ReportKind) -> proto::ReportKind {
    match k {
        ReportKind::PostRotation => proto::ReportKind::PostRotation,
        ReportKind::Weekly => proto::ReportKind::Weekly,
        ReportKind::Monthly => proto::ReportKind::Monthly,
        ReportKind::Quarterly => proto::ReportKind::Quarterly,
    }
}

/// Counts beyond `u32` cannot happen (a report reads at most 1000 events); saturate anyway.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn event(e: &EventSummary) -> proto::ReportEvent {
    proto::ReportEvent {
        event_id: e.event_id.clone(),
        key_name: e.key_type.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        trigger: trigger(&e.trigger),
        actor: e.actor.clone(),
        status: event_status(&e.status),
        created_at: Some(time(e.created_at)),
        finished_at: e.finished_at.map(time),
        duration: e.duration_secs.map(duration),
        records: Some(counts(&e.records)),
        records_per_second: e.records_per_second,
        last_error: e.last_error.clone().unwrap_or_default(),
        failed_ids: e.failed_ids.clone(),
    }
}

fn weekly_key(k: &WeeklyKey) -> proto::WeeklyKeyReport {
    proto::WeeklyKeyReport {
        key_name: k.key_type.clone(),
        primary_version: k.primary_version,
        primary_age: Some(duration(k.primary_age_secs)),
        next_rotation_due: Some(time(k.next_rotation_due)),
        alert_level: alert_level(&k.alert_level),
        alert_reason: k.alert_reason.clone(),
        versions: k
            .versions
            .iter()
            .map(|v| proto::ReportVersionState {
                version: v.version,
                state: version_state(&v.state),
            })
            .collect(),
        rotations_in_period: count(k.rotations_in_period),
    }
}

fn monthly(m: &Monthly) -> proto::MonthlyReport {
    proto::MonthlyReport {
        rotations: count(m.rotations),
        finished: count(m.finished),
        completed: count(m.completed),
        failed: count(m.failed),
        rolled_back: count(m.rolled_back),
        success_rate: m.success_rate,
        records_migrated: m.records_migrated,
        records_per_second: m.records_per_second,
        record_error_rate: m.record_error_rate,
        events: m.events.iter().map(event).collect(),
    }
}

fn quarterly_key(k: &QuarterlyKey) -> proto::QuarterlyKeyReport {
    proto::QuarterlyKeyReport {
        key_name: k.key_type.clone(),
        purpose: purpose(&k.purpose),
        policy: Some(proto::KeyPolicy {
            rotation_interval: Some(duration(k.policy.rotation_interval_secs)),
            grace_period: Some(duration(k.policy.grace_period_secs)),
        }),
        rotations: k.rotations.iter().map(event).collect(),
        overdue_periods: k.overdue_periods.iter().map(overdue).collect(),
        versions_in_use_past_grace: k
            .versions_in_use_past_grace
            .iter()
            .map(|v| proto::VersionPastGrace {
                version: v.version,
                records: v.records,
            })
            .collect(),
        compliant: k.compliant,
    }
}

fn overdue(o: &OverduePeriod) -> proto::OverduePeriod {
    proto::OverduePeriod {
        start_time: Some(timestamp(o.from.0)),
        end_time: Some(timestamp(o.to.0)),
        duration: Some(duration(o.secs)),
    }
}
