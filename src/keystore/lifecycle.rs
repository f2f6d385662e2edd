//! The runbook's alert rules, as a pure function of a key's policy, its primary version's age
//! and the time now:
//! - CRITICAL: the primary is older than rotation interval + grace period, or (`assess_key`)
//!   a Deprecated version has outlived its grace period without being retired;
//! - WARNING: rotation is due within 7 days, or overdue but still within the grace period;
//! - OK otherwise.

use crate::clock::Millis;
use crate::clock::{MILLIS_PER_SEC, SECS_PER_DAY};
use crate::keystore::store::{KeyPolicy, VersionRecord, VersionState};

/// How long before the due date a key turns WARNING.
pub(crate) const WARNING_WINDOW_SECS: i64 = 7 * SECS_PER_DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AlertLevel {
    Ok,
    Warning,
    Critical,
}

impl AlertLevel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Ok => "OK",
            AlertLevel::Warning => "WARNING",
            AlertLevel::Critical => "CRITICAL",
        }
    }
}

/// Where a key stands against its rotation policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assessment {
    pub(crate) primary_age_ms: Millis,
    pub(crate) next_rotation_due: Millis,
    pub(crate) level: AlertLevel,
    /// The level explained in words, for operators.
    pub(crate) reason: String,
}

pub(crate) fn assess(policy: KeyPolicy, primary_created_at: Millis, now: Millis) -> Assessment {
    let interval_ms = policy.rotation_interval_secs * MILLIS_PER_SEC;
    let grace_ms = policy.grace_period_secs * MILLIS_PER_SEC;
    let age = (now - primary_created_at).max(0);
    let due = policy.due_at(primary_created_at);
    let until_due = due - now;
    let (level, reason) = if age > interval_ms + grace_ms {
        (
            AlertLevel::Critical,
            format!(
                "primary version is {} old, past its rotation interval ({}) plus grace period ({}): rotate now",
                days_past(age),
                days_past(interval_ms),
                days_past(grace_ms)
            ),
        )
    } else if until_due < 0 {
        (
            AlertLevel::Warning,
            format!(
                "rotation overdue by {}; the grace period ends in {}",
                days_past(-until_due),
                days_left(interval_ms + grace_ms - age)
            ),
        )
    } else if until_due <= WARNING_WINDOW_SECS * MILLIS_PER_SEC {
        (
            AlertLevel::Warning,
            format!("rotation due in {}", days_left(until_due)),
        )
    } else {
        (
            AlertLevel::Ok,
            format!("rotation due in {}", days_left(until_due)),
        )
    };
    Assessment {
        primary_age_ms: age,
        next_rotation_due: due,
        level,
        reason,
    }
}

/// `assess`, plus the retirement rule: a Deprecated version still not retired after its grace
/// period means records still use it (the scheduler retires it only once none does) or the
/// scheduler is not running. That is CRITICAL too.
pub(crate) fn assess_key(
    policy: KeyPolicy,
    primary_created_at: Millis,
    versions: &[VersionRecord],
    now: Millis,
) -> Assessment {
    let mut assessment = assess(policy, primary_created_at, now);
    let grace_ms = policy.grace_period_secs * MILLIS_PER_SEC;
    let overdue: Vec<String> = versions
        .iter()
        .filter(|v| v.state == VersionState::Deprecated)
        .filter(|v| v.deprecated_at.is_some_and(|at| at + grace_ms < now))
        .map(|v| v.version.to_string())
        .collect();
    if !overdue.is_empty() {
        let reason = format!(
            "version {} is past its grace period ({}) but not retired: stored records still use it \
             or the scheduler has not run; check GetImpact and migrate them",
            overdue.join(", "),
            days_past(grace_ms)
        );
        if assessment.level == AlertLevel::Critical {
            assessment.reason = format!("{}; {reason}", assessment.reason);
        } else {
            assessment.level = AlertLevel::Critical;
            assessment.reason = reason;
        }
    }
    assessment
}

const HOUR_MS: Millis = 3600 * MILLIS_PER_SEC;
const DAY_MS: Millis = SECS_PER_DAY * MILLIS_PER_SEC;

/// A length of time already passed (an age, an overdue period, a policy), in whole days
/// (hours below one day), rounded down: a key 89 days and 23 hours old is "89 days" old.
fn days_past(ms: Millis) -> String {
    if ms < DAY_MS {
        format!("{} h", ms / HOUR_MS)
    } else {
        plural_days(ms / DAY_MS)
    }
}

/// The time left until a deadline, in whole days (hours below one day), rounded up: a fresh
/// 90-day key is due "in 90 days", not 89 because a few milliseconds have passed; and a key
/// "due in 7 days" or less is exactly one within the WARNING window.
fn days_left(ms: Millis) -> String {
    if ms <= DAY_MS - HOUR_MS {
        format!("{} h", ceil_div(ms, HOUR_MS))
    } else {
        plural_days(ceil_div(ms, DAY_MS))
    }
}

fn ceil_div(ms: Millis, unit: Millis) -> Millis {
    (ms + unit - 1).div_euclid(unit)
}

fn plural_days(n: Millis) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = SECS_PER_DAY * MILLIS_PER_SEC;
    const POLICY: KeyPolicy = KeyPolicy {
        rotation_interval_secs: 90 * SECS_PER_DAY,
        grace_period_secs: 30 * SECS_PER_DAY,
    };

    fn level_at(age_days_ms: Millis) -> AlertLevel {
        assess(POLICY, 0, age_days_ms).level
    }

    #[test]
    fn levels_follow_the_runbook_boundaries() {
        assert_eq!(level_at(0), AlertLevel::Ok);
        assert_eq!(level_at(83 * DAY - 1), AlertLevel::Ok);
        assert_eq!(level_at(83 * DAY), AlertLevel::Warning); // due in exactly 7 days
        assert_eq!(level_at(90 * DAY), AlertLevel::Warning); // due now
        assert_eq!(level_at(100 * DAY), AlertLevel::Warning); // overdue, within grace
        assert_eq!(level_at(120 * DAY), AlertLevel::Warning); // last instant of grace
        assert_eq!(level_at(120 * DAY + 1), AlertLevel::Critical);
    }

    #[test]
    fn due_date_and_reasons() {
        let a = assess(POLICY, 1_000, 1_000 + 10 * DAY);
        assert_eq!(a.next_rotation_due, 1_000 + 90 * DAY);
        assert_eq!(a.primary_age_ms, 10 * DAY);
        assert_eq!(a.reason, "rotation due in 80 days");
        let a = assess(POLICY, 0, 95 * DAY);
        assert_eq!(
            a.reason,
            "rotation overdue by 5 days; the grace period ends in 25 days"
        );
        let a = assess(POLICY, 0, 200 * DAY);
        assert!(
            a.reason.starts_with("primary version is 200 days old"),
            "{}",
            a.reason
        );
    }

    fn deprecated(version: u32, deprecated_at: Millis) -> VersionRecord {
        VersionRecord {
            key_name: "K".into(),
            version,
            state: VersionState::Deprecated,
            wrapped_material: Vec::new(),
            check_value: String::new(),
            created_at: 0,
            deprecated_at: Some(deprecated_at),
            retired_at: None,
        }
    }

    #[test]
    fn a_deprecated_version_kept_past_its_grace_period_is_critical() {
        let versions = [deprecated(1, 10 * DAY)];
        let within = assess_key(POLICY, 10 * DAY, &versions, 40 * DAY);
        assert_eq!(within.level, AlertLevel::Ok);
        let past = assess_key(POLICY, 10 * DAY, &versions, 40 * DAY + 1);
        assert_eq!(past.level, AlertLevel::Critical);
        assert!(
            past.reason
                .starts_with("version 1 is past its grace period (30 days)"),
            "{}",
            past.reason
        );
    }

    #[test]
    fn a_fresh_key_is_due_in_its_whole_interval() {
        for elapsed in [0, 1, 59_000, HOUR_MS - 1] {
            let a = assess(POLICY, 0, elapsed);
            assert_eq!(
                a.reason, "rotation due in 90 days",
                "{elapsed} ms after creation"
            );
        }
        // A day and a bit later, 88 days and some hours are left: still "89 days".
        assert_eq!(assess(POLICY, 0, DAY + 1).reason, "rotation due in 89 days");
    }

    #[test]
    fn time_left_rounds_up_and_time_passed_rounds_down() {
        assert_eq!(days_left(7 * DAY), "7 days");
        assert_eq!(days_left(6 * DAY + 1), "7 days");
        assert_eq!(days_left(7 * DAY + 1), "8 days");
        assert_eq!(days_left(DAY), "1 day");
        assert_eq!(days_left(23 * HOUR_MS), "23 h");
        assert_eq!(days_left(22 * HOUR_MS + 1), "23 h");
        assert_eq!(days_left(23 * HOUR_MS + 1), "1 day");
        assert_eq!(days_left(0), "0 h");
        assert_eq!(days_past(2 * DAY - 1), "1 day");
        assert_eq!(days_past(DAY - 1), "23 h");
        assert_eq!(days_past(90 * DAY - 1), "89 days");
        // The last 7 days before the due date are WARNING and read "due in 7 days" or less.
        let warning = assess(POLICY, 0, 83 * DAY);
        assert_eq!(warning.level, AlertLevel::Warning);
        assert_eq!(warning.reason, "rotation due in 7 days");
        let ok = assess(POLICY, 0, 83 * DAY - 1);
        assert_eq!(ok.level, AlertLevel::Ok);
        assert_eq!(ok.reason, "rotation due in 8 days");
    }

    #[test]
    fn a_clock_behind_the_creation_time_counts_as_age_zero() {
        let a = assess(POLICY, 10 * DAY, 0);
        assert_eq!(a.primary_age_ms, 0);
        assert_eq!(a.level, AlertLevel::Ok);
    }
}
