//! The runbook's reports, built from rotation events and key state:
//! - `post_rotation`: per event — key, versions, duration, counts, records/second, errors;
//! - `weekly`: key status summary;
//! - `monthly`: rotation performance — success rate, records/second, error rates;
//! - `quarterly`: compliance — per key its policy, every rotation in the period, the periods
//!   its primary was overdue, and versions still in use past their grace period.
//!
//! Each report covers `[from, to)`; the default period ends now and spans 1, 7, 30 or 90 days.

use serde::Serialize;

use super::error::InvalidInput;
use super::query::{given, rfc3339_time};
use super::views::{CountsJson, Secs, Time};
use super::{Admin, AdminResult};
use crate::clock::Millis;
use crate::clock::{MILLIS_PER_SEC, SECS_PER_DAY};
use crate::keystore::lifecycle;
use crate::keystore::manager::KeySnapshot;
use crate::keystore::store::VersionState;
use crate::rotation::events::{EventStatus, RotationEvent};
use crate::rotation::RotationEngine;

const DAY_MS: Millis = SECS_PER_DAY * MILLIS_PER_SEC;
/// Events read per report at most.
const MAX_EVENTS: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

    /// The kind a client named; empty or absent means `post_rotation`.
    pub(crate) fn from_request(kind: Option<&str>) -> Result<Self, InvalidInput> {
        match given(kind) {
            None => Ok(ReportKind::PostRotation),
            Some(k) => Self::parse(k).ok_or_else(|| InvalidInput::UnknownReportKind(k.into())),
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

/// A report: its kind and period, then what the kind reports.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) kind: ReportKind,
    pub(crate) from: Time,
    pub(crate) to: Time,
    pub(crate) generated_at: Time,
    #[serde(flatten)]
    pub(crate) body: ReportBody,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ReportBody {
    PostRotation {
        events: Vec<EventSummary>,
    },
    Weekly {
        keys: Vec<WeeklyKey>,
    },
    Monthly(Monthly),
    Quarterly {
        standards: Vec<String>,
        keys: Vec<QuarterlyKey>,
    },
}

/// One rotation event in a report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EventSummary {
    pub(crate) event_id: String,
    pub(crate) key_type: String,
    pub(crate) from_version: u32,
    pub(crate) to_version: u32,
    pub(crate) trigger: String,
    pub(crate) actor: String,
    pub(crate) status: String,
    pub(crate) created_at: Time,
    pub(crate) finished_at: Option<Time>,
    pub(crate) duration_secs: Option<Secs>,
    pub(crate) records: CountsJson,
    pub(crate) records_per_second: f64,
    pub(crate) last_error: Option<String>,
    pub(crate) failed_ids: Vec<String>,
}

impl From<&RotationEvent> for EventSummary {
    fn from(e: &RotationEvent) -> Self {
        Self {
            event_id: e.id.clone(),
            key_type: e.key_name.clone(),
            from_version: e.from_version,
            to_version: e.to_version,
            trigger: e.trigger.clone(),
            actor: e.actor.clone(),
            status: e.status.as_str().to_owned(),
            created_at: Time(e.created_at),
            finished_at: e.finished_at.map(Time),
            duration_secs: match (e.started_at, e.finished_at) {
                (Some(s), Some(f)) => Some(Secs(f - s)),
                _ => None,
            },
            records: e.totals().into(),
            // Over its wall time once it finished; the worker's own rate while it runs.
            records_per_second: match e.finished_at {
                Some(finished) => e.records_per_second(finished),
                None => e.work_records_per_second(),
            },
            last_error: e.last_error.clone(),
            failed_ids: e
                .targets
                .iter()
                .flat_map(|t| t.failed_ids.iter().cloned())
                .collect(),
        }
    }
}

fn summaries<'a>(events: impl IntoIterator<Item = &'a RotationEvent>) -> Vec<EventSummary> {
    events.into_iter().map(EventSummary::from).collect()
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct VersionStateJson {
    pub(crate) version: u32,
    pub(crate) state: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WeeklyKey {
    pub(crate) key_type: String,
    pub(crate) primary_version: u32,
    pub(crate) primary_age_secs: Secs,
    pub(crate) next_rotation_due: Time,
    pub(crate) alert_level: String,
    pub(crate) alert_reason: String,
    pub(crate) versions: Vec<VersionStateJson>,
    pub(crate) rotations_in_period: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Monthly {
    pub(crate) rotations: usize,
    pub(crate) finished: usize,
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    pub(crate) rolled_back: usize,
    pub(crate) success_rate: f64,
    pub(crate) records_migrated: u64,
    pub(crate) records_per_second: f64,
    pub(crate) record_error_rate: f64,
    pub(crate) events: Vec<EventSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicySecs {
    pub(crate) rotation_interval_secs: Secs,
    pub(crate) grace_period_secs: Secs,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct OverduePeriod {
    pub(crate) from: Time,
    pub(crate) to: Time,
    pub(crate) secs: Secs,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct VersionPastGrace {
    pub(crate) version: u32,
    pub(crate) records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct QuarterlyKey {
    pub(crate) key_type: String,
    pub(crate) purpose: String,
    pub(crate) policy: PolicySecs,
    pub(crate) rotations: Vec<EventSummary>,
    pub(crate) overdue_periods: Vec<OverduePeriod>,
    pub(crate) versions_in_use_past_grace: Vec<VersionPastGrace>,
    pub(crate) compliant: bool,
}

impl Admin {
    /// A report of `kind` (empty: post_rotation) over `[from, to)` given as RFC 3339 times.
    pub(crate) async fn report_from_text(
        &self,
        kind: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> AdminResult<Report> {
        let kind = ReportKind::from_request(kind)?;
        let from = rfc3339_time("from", from)?;
        let to = rfc3339_time("to", to)?;
        self.report(kind, from, to).await
    }

    /// A report of `kind` over `[from, to)`; the default period ends now and spans 1, 7, 30 or
    /// 90 days.
    pub(crate) async fn report(
        &self,
        kind: ReportKind,
        from: Option<Millis>,
        to: Option<Millis>,
    ) -> AdminResult<Report> {
        let engine = &self.engine;
        let now = engine.manager().now();
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - kind.default_days() * DAY_MS);
        if from >= to {
            return Err(InvalidInput::EmptyPeriod {
                from: super::views::rfc3339(from),
                to: super::views::rfc3339(to),
            }
            .into());
        }
        let events: Vec<RotationEvent> = engine
            .list_events(None, None, MAX_EVENTS)
            .await?
            .into_iter()
            .filter(|e| e.created_at >= from && e.created_at < to)
            .collect();
        let body = match kind {
            ReportKind::PostRotation => ReportBody::PostRotation {
                events: summaries(&events),
            },
            ReportKind::Weekly => weekly(engine, now, &events).await?,
            ReportKind::Monthly => ReportBody::Monthly(monthly(&events)),
            ReportKind::Quarterly => quarterly(engine, (from, to), now, &events).await?,
        };
        Ok(Report {
            kind,
            from: Time(from),
            to: Time(to),
            generated_at: Time(now),
            body,
        })
    }
}

async fn weekly(
    engine: &RotationEngine,
    now: Millis,
    events: &[RotationEvent],
) -> AdminResult<ReportBody> {
    let snapshots = engine.manager().snapshots(None).await?;
    let keys = snapshots
        .iter()
        .map(|s| {
            let a =
                lifecycle::assess_key(s.record.policy, s.primary_created_at(), &s.versions, now);
            WeeklyKey {
                key_type: s.record.name.clone(),
                primary_version: s.record.primary_version,
                primary_age_secs: Secs(a.primary_age_ms),
                next_rotation_due: Time(a.next_rotation_due),
                alert_level: a.level.as_str().to_owned(),
                alert_reason: a.reason,
                versions: s
                    .versions
                    .iter()
                    .map(|v| VersionStateJson {
                        version: v.version,
                        state: v.state.as_str().to_owned(),
                    })
                    .collect(),
                rotations_in_period: events
                    .iter()
                    .filter(|e| e.key_name == s.record.name)
                    .count(),
            }
        })
        .collect();
    Ok(ReportBody::Weekly { keys })
}

fn monthly(events: &[RotationEvent]) -> Monthly {
    let finished: Vec<&RotationEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EventStatus::Completed | EventStatus::Failed | EventStatus::RolledBack
            )
        })
        .collect();
    let count = |status| finished.iter().filter(|e| e.status == status).count();
    let completed = count(EventStatus::Completed);
    let (mut total, mut failed, mut migrated, mut millis) = (0u64, 0u64, 0u64, 0i64);
    for e in events {
        let t = e.totals();
        total += t.total;
        failed += t.failed;
        migrated += t.migrated;
        millis += e.active_millis;
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Monthly {
        rotations: events.len(),
        finished: finished.len(),
        completed,
        failed: count(EventStatus::Failed),
        rolled_back: count(EventStatus::RolledBack),
        success_rate: ratio(completed as f64, finished.len() as f64),
        records_migrated: migrated,
        records_per_second: ratio(migrated as f64 * 1000.0, millis as f64),
        record_error_rate: ratio(failed as f64, total as f64),
        events: summaries(events),
    }
}

/// Each version was primary from its creation until the next version's creation (or now);
/// it was overdue for any part of that beyond the rotation interval, within the period.
fn overdue_periods(
    s: &KeySnapshot,
    (from, to): (Millis, Millis),
    now: Millis,
) -> Vec<OverduePeriod> {
    let mut created: Vec<Millis> = s.versions.iter().map(|v| v.created_at).collect();
    created.sort_unstable();
    let mut overdue = Vec::new();
    for (i, start) in created.iter().enumerate() {
        let end = created.get(i + 1).copied().unwrap_or(now);
        let due = s.record.policy.due_at(*start);
        let (o_from, o_to) = (due.max(from), end.min(to));
        if end > due && o_to > o_from {
            overdue.push(OverduePeriod {
                from: Time(o_from),
                to: Time(o_to),
                secs: Secs(o_to - o_from),
            });
        }
    }
    overdue
}

async fn quarterly(
    engine: &RotationEngine,
    period: (Millis, Millis),
    now: Millis,
    events: &[RotationEvent],
) -> AdminResult<ReportBody> {
    let snapshots = engine.manager().snapshots(None).await?;
    let mut keys = Vec::new();
    for s in &snapshots {
        let policy = s.record.policy;
        let grace_ms = policy.grace_period_secs * MILLIS_PER_SEC;
        let overdue = overdue_periods(s, period, now);
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
        keys.push(QuarterlyKey {
            key_type: s.record.name.clone(),
            purpose: s.record.purpose.as_str().to_owned(),
            policy: PolicySecs {
                rotation_interval_secs: Secs::from_secs(policy.rotation_interval_secs),
                grace_period_secs: Secs::from_secs(policy.grace_period_secs),
            },
            rotations: summaries(events.iter().filter(|e| e.key_name == s.record.name)),
            compliant: overdue.is_empty() && past_grace.is_empty(),
            overdue_periods: overdue,
            versions_in_use_past_grace: past_grace
                .iter()
                .map(|v| VersionPastGrace {
                    version: *v,
                    records: impact.as_ref().map_or(0, |i| i.records_on(*v)),
                })
                .collect(),
        });
    }
    Ok(ReportBody::Quarterly {
        standards: ["SOX", "PCI DSS", "GDPR"].map(String::from).to_vec(),
        keys,
    })
}
