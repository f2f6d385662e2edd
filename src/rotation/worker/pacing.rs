//! The pace of a migration: each batch waits out its partition's share of the event's rate
//! limit, then is counted in the metrics, whose records/s series lives exactly as long as this
//! replica works the event.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::rotation::events::{BatchRecord, RotationEvent};
use crate::telemetry::metrics::MigrationOutcomes;
use crate::telemetry::Metrics;

use super::Worker;

impl Worker {
    /// Keeps the event within its rate limit, shared by the `live` partitions being worked
    /// (a stop cuts the wait short: the batch is already recorded), then counts the batch.
    pub(super) async fn pace(
        &self,
        event: &RotationEvent,
        record: &BatchRecord,
        since: Instant,
        live: u32,
        stop: &CancellationToken,
    ) {
        let processed = record.counts.total.max(record.counts.migrated);
        let share = f64::from(event.rate_limit) / f64::from(live.max(1));
        tokio::select! {
            () = throttle(share, processed, since) => {}
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

/// One lane's hold on the event's records/s series: the series is exported while any lane of
/// this replica works the event, and goes when the last one stops, however that happens
/// (including a stop at shutdown, or the task being aborted).
pub(super) struct RateSeries<'a> {
    metrics: &'a Metrics,
    event_id: &'a str,
}

impl<'a> RateSeries<'a> {
    pub(super) fn start(metrics: &'a Metrics, event: &'a RotationEvent) -> Self {
        metrics.migration_started(&event.key_name, &event.id);
        Self {
            metrics,
            event_id: &event.id,
        }
    }
}

impl Drop for RateSeries<'_> {
    fn drop(&mut self) {
        self.metrics.migration_stopped(self.event_id);
    }
}

/// Sleeps so that `processed` rows since `started` stay within `rate_limit` rows/second
/// (0: unlimited).
async fn throttle(rate_limit: f64, processed: u64, started: Instant) {
    if rate_limit <= 0.0 || processed == 0 {
        return;
    }
    let budget = Duration::from_secs_f64(processed as f64 / rate_limit);
    if let Some(rest) = budget.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}
