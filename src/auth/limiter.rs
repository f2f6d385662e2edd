//! Rate limiting of failed authentications per peer address, so that a flood of bad tokens
//! costs the server almost nothing and cannot crowd out valid clients: once an address has
//! failed too often within a window, its requests are refused before any lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address and window.
pub(super) const MAX_FAILURES: u32 = 20;
pub(super) const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; older windows are dropped first when full.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    /// Seconds until `peer` may try again, if it is blocked now.
    pub(super) fn blocked(&self, peer: IpAddr) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = windows.get(&peer)?;
        let elapsed = start.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    pub(super) fn record_failure(&self, peer: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&peer) {
            windows.retain(|_, (start, _)| start.elapsed() < WINDOW);
            if windows.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = windows.entry(peer).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_and_others_are_not() {
        let limiter = FailureLimiter::default();
        let bad: IpAddr = "10.0.0.66".parse().unwrap();
        let good: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.record_failure(bad);
        }
        assert_eq!(limiter.blocked(bad), None);
        limiter.record_failure(bad);
        assert!(limiter.blocked(bad).is_some_and(|s| (1..=60).contains(&s)));
        assert_eq!(limiter.blocked(good), None);
    }
}
