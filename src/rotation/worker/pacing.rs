//! The pace of a migration: each batch waits out the event's rate limit, then is counted in
//! the metrics, whose records/s series lives exactly as long as this replica works the event.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::rotation::events::{BatchRecord, RotationEvent};
use crate::telemetry::metrics::MigrationOutcomes;
use crate::telemetry::Metrics;

use super::Worker;

impl Worker {
    /// Keeps the event within its rate limit (a stop cuts the wait short: the batch is
    /// already recorded), then counts the batch.
    pub(super) async fn pace(
        &self,
        event: &RotationEvent,
        record: &BatchRecord,
        since: Instant,
        stop: &CancellationToken,
    ) {
        let processed = record.counts.total.max(record.counts.migrated);
        tokio::select! {
            () = throttle(event.rate_limit, processed, since) => {}
            () = stop.cancelled() => {}
        }
        // After the throttle, so that the rate shown is the one achieved.
        self.count_batch(event, record, since);
    }

    pub(super) fn count_batch(&self, event: &RotationEvent, record: &BatchRecord, since: Instant) {
        let counts = &record.counts;
        let processed = counts.total.max(counts.migrated);
        let outcomes = MigrationOutcomes {
            migrated: counts.migrated,
            already_current: counts.already_current,
            skipped: counts.skipped,
            failed: counts.failed,
        };
        self.deps
            .metrics
            .migration_batch(&event.key_name, &event.id, outcomes, processed, since);
    }
}

/// While alive, the event's records/s series is exported; dropped when this replica stops
/// working the event, however that happens (including a stop at shutdown, or the task being aborted).
pub(super) struct RateSeries<'a> {
    pub(super) metrics: &'a Metrics,
    pub(super) event_id: &'a str,
}

impl Drop for RateSeries<'_> {
    fn drop(&mut self) {
        self.metrics.migration_stopped(self.event_id);
    }
}

/// Sleeps so that `processed` rows since `started` stay within `rate_limit` rows/second.
async fn throttle(rate_limit: u32, processed: u64, started: Instant) {
    if rate_limit == 0 || processed == 0 {
        return;
    }
    let budget = Duration::from_secs_f64(processed as f64 / f64::from(rate_limit));
    if let Some(rest) = budget.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}
