//! `[rotation]`: manual and scheduled rotations, and the migration worker.

use serde::Deserialize;

use super::ConfigError;
use crate::clock::MILLIS_PER_SEC;
use crate::rotation::engine::EngineSettings;
use crate::rotation::BatchSize;

/// Daily at 02:00 UTC, as the runbook says.
pub(crate) const DEFAULT_SCHEDULE_CRON: &str = "0 0 2 * * *";

/// Partitions per migration target unless configured.
pub(crate) const DEFAULT_PARALLELISM: u32 = 4;

/// The most partitions a migration target may be cut into.
pub(crate) const MAX_PARALLELISM: u32 = 64;

/// `[rotation]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationConfig {
    /// `KEY_ROTATION_ENABLED`: when false, Rotate and Rollback are refused.
    pub enabled: bool,
    /// A rotation without `force` is refused if the key was rotated less than this ago.
    pub min_interval_secs: u64,
    /// `KEY_ROTATION_SCHEDULE_ENABLED`: when false the scheduler never runs (manual rotations
    /// still work).
    pub schedule_enabled: bool,
    /// When the scheduler runs, as a cron expression in UTC with seconds:
    /// `sec min hour day-of-month month day-of-week`. Default: daily at 02:00.
    pub schedule_cron: String,
    /// Rows per migration batch unless a target or ExecuteEvent says otherwise.
    pub batch_size: BatchSize,
    /// How long a replica's claim on a migration event lasts without renewal; after that,
    /// another replica takes the event over from its last checkpoint.
    pub lease_secs: u64,
    /// How often an idle migration worker looks for events to work.
    pub worker_poll_interval_ms: u64,
    /// Partitions each migration target is cut into, migrated concurrently by the replicas,
    /// unless the target sets its own `parallelism`.
    pub parallelism: u32,
    /// Partitions this replica migrates at once, over every event and target (1 to 64).
    /// Unset: the sum of the targets' `parallelism`, so that one replica alone can work every
    /// partition of a target; set lower to spread one target's partitions over the replicas
    /// (each takes at most this many) or to cap a replica's share of CPU and connections.
    pub worker_lanes: Option<u32>,
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_interval_secs: 60,
            schedule_enabled: true,
            schedule_cron: DEFAULT_SCHEDULE_CRON.to_owned(),
            batch_size: BatchSize::DEFAULT,
            lease_secs: 30,
            worker_poll_interval_ms: 1000,
            parallelism: DEFAULT_PARALLELISM,
            worker_lanes: None,
        }
    }
}

impl RotationConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.schedule()?;
        if self.lease_secs == 0 || self.worker_poll_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "rotation.lease_secs and rotation.worker_poll_interval_ms must be at least 1"
                    .into(),
            ));
        }
        check_parallelism("rotation.parallelism", self.parallelism)?;
        match self.worker_lanes {
            Some(lanes) => check_parallelism("rotation.worker_lanes", lanes),
            None => Ok(()),
        }
    }

    /// The parsed scheduler cron expression.
    pub(crate) fn schedule(&self) -> Result<cron::Schedule, ConfigError> {
        self.schedule_cron.parse().map_err(|e: cron::error::Error| {
            ConfigError::Invalid(cron_error_text(&self.schedule_cron, &e.to_string()))
        })
    }

    /// The rotation engine's settings; `max_passes` bounds the passes over the targets per
    /// migration event.
    pub(crate) fn engine_settings(&self, max_passes: u32) -> Result<EngineSettings, ConfigError> {
        Ok(EngineSettings {
            default_batch_size: self.batch_size,
            lease_ms: i64::try_from(self.lease_secs.saturating_mul(MILLIS_PER_SEC as u64))
                .unwrap_or(i64::MAX),
            max_passes,
            schedule: self.schedule()?,
            schedule_enabled: self.schedule_enabled,
            schedule_cron: self.schedule_cron.clone(),
        })
    }
}

/// A `parallelism` setting named `what` is within 1..=64.
pub(crate) fn check_parallelism(what: &str, value: u32) -> Result<(), ConfigError> {
    if (1..=MAX_PARALLELISM).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{what} is {value}: it must be from 1 to {MAX_PARALLELISM} (partitions migrated at once)"
    )))
}

/// The cron parser's text is the expression, a caret line, then the cause; a person reads the
/// first line first, so the cause leads and the excerpt follows.
fn cron_error_text(expression: &str, parser_text: &str) -> String {
    let mut lines: Vec<&str> = parser_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let cause = lines.pop().unwrap_or("not a cron expression");
    let mut text = format!(
        "rotation.schedule_cron {expression:?}: {cause}; the form is `sec min hour day month weekday`"
    );
    for line in lines {
        text.push_str("\n    ");
        text.push_str(line);
    }
    text
}
