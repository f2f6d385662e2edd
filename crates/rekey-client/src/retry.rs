//! When a failed attempt is tried again, and after how long: exponential backoff with full
//! jitter (a uniformly random wait up to the exponential bound, so clients that failed
//! together do not come back together), only for rpcs the proto calls safe to retry.

use std::time::Duration;

use crate::error::Error;

/// Whether sending the same request twice can change more than sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// The proto says "Safe to retry".
    Idempotent,
    /// Rotate, Rollback, CreateToken, ScheduleRotation with `force`, RollbackEvent: a lost
    /// answer may hide a committed change, so the caller decides (e.g. after GetStatus).
    NotIdempotent,
}

/// How often and how patiently to retry transient failures (UNAVAILABLE, DEADLINE_EXCEEDED)
/// of idempotent rpcs. All attempts stay within the call's overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Upper bound of the wait before the first retry; doubles per retry.
    pub initial_backoff: Duration,
    /// Cap of the upper bound.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The bound of the wait after failed attempt number `attempt` (1-based).
    pub(crate) fn bound(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait after failed attempt `attempt`: uniform in `[0, bound]` (full jitter).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let bound = self.bound(attempt);
        let mut bytes = [0u8; 8];
        rekey_envelope::rng::fill(&mut bytes);
        let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
        bound.mul_f64(fraction)
    }

    /// Whether to try again after `error` on attempt `attempt`, and after how long: `None` to
    /// give up. `remaining` is what is left of the overall deadline.
    pub(crate) fn next_wait(
        &self,
        error: &Error,
        idempotency: Idempotency,
        attempt: u32,
        remaining: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = match error {
            // The auth limiter refuses before the rpc runs, so nothing was done and any rpc
            // may be sent again once the window is over, if the deadline allows.
            Error::RateLimited {
                retry_after: Some(after),
                ..
            } => *after,
            _ if error.is_transient() && idempotency == Idempotency::Idempotent => {
                self.backoff(attempt)
            }
            _ => return None,
        };
        (wait < remaining).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    fn unavailable() -> Error {
        Error::Unavailable {
            message: "down".into(),
        }
    }

    #[test]
    fn bounds_double_from_the_initial_backoff_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.bound(1), Duration::from_millis(50));
        assert_eq!(p.bound(2), Duration::from_millis(100));
        assert_eq!(p.bound(3), Duration::from_millis(200));
        assert_eq!(p.bound(7), Duration::from_secs(2));
        assert_eq!(p.bound(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn waits_are_jittered_within_the_bound() {
        let p = RetryPolicy::default();
        let waits: Vec<Duration> = (0..200).map(|_| p.backoff(3)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(200)));
        // Full jitter: 200 draws are not all equal (a constant would make this fail).
        assert!(waits.iter().any(|w| *w != waits[0]));
    }

    #[test]
    fn transient_errors_of_idempotent_rpcs_are_retried_up_to_max_attempts() {
        let p = RetryPolicy::default();
        for attempt in 1..4 {
            assert!(p
                .next_wait(&unavailable(), Idempotency::Idempotent, attempt, LONG)
                .is_some());
        }
        assert!(p
            .next_wait(&unavailable(), Idempotency::Idempotent, 4, LONG)
            .is_none());
        let deadline = Error::DeadlineExceeded {
            message: String::new(),
        };
        assert!(p
            .next_wait(&deadline, Idempotency::Idempotent, 1, LONG)
            .is_some());
    }

    #[test]
    fn non_idempotent_rpcs_and_permanent_errors_are_never_retried() {
        let p = RetryPolicy::default();
        assert!(p
            .next_wait(&unavailable(), Idempotency::NotIdempotent, 1, LONG)
            .is_none());
        let bad = Error::InvalidArgument {
            message: String::new(),
        };
        assert!(p
            .next_wait(&bad, Idempotency::Idempotent, 1, LONG)
            .is_none());
        assert!(RetryPolicy::none()
            .next_wait(&unavailable(), Idempotency::Idempotent, 1, LONG)
            .is_none());
    }

    #[test]
    fn the_rate_limit_hint_is_honoured_within_the_deadline_only() {
        let p = RetryPolicy::default();
        let limited = |hint| Error::RateLimited {
            retry_after: hint,
            message: String::new(),
        };
        let two = Some(Duration::from_secs(2));
        assert_eq!(
            p.next_wait(&limited(two), Idempotency::NotIdempotent, 1, LONG),
            two
        );
        assert_eq!(
            p.next_wait(
                &limited(two),
                Idempotency::Idempotent,
                1,
                Duration::from_secs(1)
            ),
            None
        );
        assert_eq!(
            p.next_wait(&limited(None), Idempotency::Idempotent, 1, LONG),
            None
        );
    }
}
