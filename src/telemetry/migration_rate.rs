//! The records/s of one migration event on this replica, as `rekey_migration_records_per_second`
//! shows it: records over wall time (throttling included), counted over windows because
//! several lanes report batches at moments of their own, so a rate per batch would jump with
//! their interleaving.

use std::time::{Duration, Instant};

/// How long a window of the rate lasts.
const RATE_WINDOW: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(super) struct MigrationRate {
    key: String,
    /// The rate over the last complete window (or the first batches, until one completes).
    records_per_second: f64,
    /// Records reported since `window_start`, by every lane of this replica.
    window_records: u64,
    window_start: Instant,
    /// Lanes of this replica working the event: the series goes when the last one stops.
    lanes: u32,
    /// A batch was measured (a lane that has not finished one yet has no rate to show).
    measured: bool,
}

impl MigrationRate {
    /// The rate of an event of `key`, its first window starting at `since`.
    pub(super) fn new(key: &str, since: Instant) -> Self {
        Self {
            key: key.to_owned(),
            records_per_second: 0.0,
            window_records: 0,
            window_start: since,
            lanes: 0,
            measured: false,
        }
    }

    pub(super) fn key(&self) -> &str {
        &self.key
    }

    pub(super) fn records_per_second(&self) -> f64 {
        self.records_per_second
    }

    /// Whether a batch was measured yet: before, there is no rate to show.
    pub(super) fn measured(&self) -> bool {
        self.measured
    }

    /// `processed` records of a batch that ended at `now`.
    pub(super) fn add(&mut self, processed: u64, now: Instant) {
        self.window_records += processed;
        let secs = now.duration_since(self.window_start).as_secs_f64();
        let window_over = secs >= RATE_WINDOW.as_secs_f64();
        if secs > 0.0 && (window_over || !self.measured) {
            self.records_per_second = self.window_records as f64 / secs;
            self.measured = true;
        }
        if window_over {
            self.window_start = now;
            self.window_records = 0;
        }
    }

    pub(super) fn lane_started(&mut self) {
        self.lanes += 1;
    }

    /// A lane stopped: true when it was the last one.
    pub(super) fn lane_stopped(&mut self) -> bool {
        self.lanes = self.lanes.saturating_sub(1);
        self.lanes == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_over_a_window_not_the_last_batch() {
        let start = Instant::now();
        let mut rate = MigrationRate::new("k", start);
        assert!(!rate.measured());
        // The first batch gives a rate at once: 100 records in 1 s.
        rate.add(100, start + Duration::from_secs(1));
        assert_eq!(rate.records_per_second(), 100.0);
        // Within the window, a batch right after another does not make the rate jump.
        rate.add(100, start + Duration::from_millis(1001));
        assert_eq!(rate.records_per_second(), 100.0);
        // At the window's end: 400 records over 5 s.
        rate.add(200, start + Duration::from_secs(5));
        assert_eq!(rate.records_per_second(), 80.0);
        // The next window starts empty.
        rate.add(50, start + Duration::from_secs(10));
        assert_eq!(rate.records_per_second(), 10.0);
    }

    #[test]
    fn the_series_goes_with_the_last_lane() {
        let mut rate = MigrationRate::new("k", Instant::now());
        rate.lane_started();
        rate.lane_started();
        assert!(!rate.lane_stopped());
        assert!(rate.lane_stopped());
    }
}
