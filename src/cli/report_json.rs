//! A `GetReportResponse` as the admin core's `Report`, so that `rekey report` prints (and
//! turns into Markdown or CSV) exactly the JSON the HTTP report route serves.

use serde_json::Value;

use super::exit::CliError;
use super::json::{
    alert, counts, event_status, purpose, secs, set_time, state, text, time, trigger,
};
use crate::admin::reports::{
    EventSummary, Monthly, OverduePeriod, PolicySecs, QuarterlyKey, Report, ReportBody, ReportKind,
    VersionPastGrace, VersionStateJson, WeeklyKey,
};
use crate::proto::{self, get_report_response::Report as Body};

/// The report as JSON; an answer without a body (a server bug) is an error, not an empty report.
pub(super) fn report(reply: &proto::GetReportResponse) -> Result<Value, CliError> {
    let body = match &reply.report {
        Some(Body::PostRotation(r)) => ReportBody::PostRotation {
            events: r.events.iter().map(event).collect(),
        },
        Some(Body::Weekly(r)) => ReportBody::Weekly {
            keys: r.keys.iter().map(weekly_key).collect(),
        },
        Some(Body::Monthly(m)) => ReportBody::Monthly(monthly(m)),
        Some(Body::Quarterly(q)) => ReportBody::Quarterly {
            standards: q.standards.clone(),
            keys: q.keys.iter().map(quarterly_key).collect(),
        },
        None => {
            return Err(CliError::failed(
                "the server's report answer has no report in it",
            ))
        }
    };
    let kind = match &body {
        ReportBody::PostRotation { .. } => ReportKind::PostRotation,
        ReportBody::Weekly { .. } => ReportKind::Weekly,
        ReportBody::Monthly(_) => ReportKind::Monthly,
        ReportBody::Quarterly { .. } => ReportKind::Quarterly,
    };
    let report = Report {
        kind,
        from: set_time(reply.start_time.as_ref()),
        to: set_time(reply.end_time.as_ref()),
        generated_at: set_time(reply.generated_at.as_ref()),
        body,
    };
    serde_json::to_value(&report).map_err(|e| CliError::failed(format!("cannot encode JSON: {e}")))
}

fn count(n: u32) -> usize {
    n as usize
}

fn event(e: &proto::ReportEvent) -> EventSummary {
    EventSummary {
        event_id: e.event_id.clone(),
        key_type: e.key_name.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        trigger: trigger(e.trigger),
        actor: e.actor.clone(),
        status: event_status(e.status),
        created_at: set_time(e.created_at.as_ref()),
        finished_at: time(e.finished_at.as_ref()),
        duration_secs: e.duration.as_ref().map(|d| secs(Some(d))),
        records: counts(e.records.as_ref()),
        records_per_second: e.records_per_second,
        last_error: text(&e.last_error),
        failed_ids: e.failed_ids.clone(),
    }
}

fn weekly_key(k: &proto::WeeklyKeyReport) -> WeeklyKey {
    WeeklyKey {
        key_type: k.key_name.clone(),
        primary_version: k.primary_version,
        primary_age_secs: secs(k.primary_age.as_ref()),
        next_rotation_due: set_time(k.next_rotation_due.as_ref()),
        alert_level: alert(k.alert_level),
        alert_reason: k.alert_reason.clone(),
        versions: k
            .versions
            .iter()
            .map(|v| VersionStateJson {
                version: v.version,
                state: state(v.state),
            })
            .collect(),
        rotations_in_period: count(k.rotations_in_period),
    }
}

fn monthly(m: &proto::MonthlyReport) -> Monthly {
    Monthly {
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

fn quarterly_key(k: &proto::QuarterlyKeyReport) -> QuarterlyKey {
    let policy = k.policy.unwrap_or_default();
    QuarterlyKey {
        key_type: k.key_name.clone(),
        purpose: purpose(k.purpose),
        policy: PolicySecs {
            rotation_interval_secs: secs(policy.rotation_interval.as_ref()),
            grace_period_secs: secs(policy.grace_period.as_ref()),
        },
        rotations: k.rotations.iter().map(event).collect(),
        overdue_periods: k
            .overdue_periods
            .iter()
            .map(|o| OverduePeriod {
                from: set_time(o.start_time.as_ref()),
                to: set_time(o.end_time.as_ref()),
                secs: secs(o.duration.as_ref()),
            })
            .collect(),
        versions_in_use_past_grace: k
            .versions_in_use_past_grace
            .iter()
            .map(|v| VersionPastGrace {
                version: v.version,
                records: v.records,
            })
            .collect(),
        compliant: k.compliant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI's JSON of a typed report has the HTTP API's field names and units.
    #[test]
    fn a_typed_report_becomes_the_runbook_json() {
        let reply = proto::GetReportResponse {
            kind: proto::ReportKind::Monthly as i32,
            start_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 86_400,
                nanos: 0,
            }),
            generated_at: Some(prost_types::Timestamp {
                seconds: 86_400,
                nanos: 0,
            }),
            report: Some(Body::Monthly(proto::MonthlyReport {
                rotations: 2,
                finished: 2,
                completed: 1,
                failed: 1,
                success_rate: 0.5,
                events: vec![proto::ReportEvent {
                    event_id: "evt_1".into(),
                    key_name: "TOKEN_ENCRYPTION".into(),
                    trigger: proto::RotationTrigger::Emergency as i32,
                    status: proto::RotationEventStatus::Failed as i32,
                    duration: Some(prost_types::Duration {
                        seconds: 90,
                        nanos: 0,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            })),
        };
        let json = report(&reply).unwrap();
        assert_eq!(json["kind"], "monthly");
        assert_eq!(json["from"], "1970-01-01T00:00:00Z");
        assert_eq!(json["to"], "1970-01-02T00:00:00Z");
        assert_eq!(json["success_rate"], 0.5);
        let event = &json["events"][0];
        assert_eq!(event["key_type"], "TOKEN_ENCRYPTION");
        assert_eq!(event["trigger"], "emergency");
        assert_eq!(event["status"], "failed");
        assert_eq!(event["duration_secs"], 90);
        assert!(event["finished_at"].is_null(), "{event}");
    }

    #[test]
    fn an_answer_without_a_report_is_an_error() {
        let reply = proto::GetReportResponse::default();
        assert!(report(&reply).is_err());
    }
}
