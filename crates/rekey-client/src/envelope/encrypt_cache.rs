//! The encrypt side's one current data key and its usage, behind a plain mutex held only to
//! count (never across an await), plus an async gate so that only one task at a time fetches
//! a new key: the single flight that turns 64 cold concurrent encryptions into one call. The
//! gate keeps the last fetch's failure, so the tasks that waited for a fetch that failed get
//! its error instead of each trying again in turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rekey_envelope::DataKey;

use super::policy::CachePolicy;
use crate::error::Error;

struct Current {
    key: Arc<DataKey>,
    fetched: Instant,
    messages: u64,
    bytes: u64,
}

impl Current {
    /// Whether the policy lets this key seal one more message of `len` bytes.
    fn allows(&self, policy: &CachePolicy, len: u64) -> bool {
        let expired = self.fetched.elapsed() >= policy.max_age;
        // A fresh key (from warm()) always takes its first message, whatever its size.
        let exhausted = self.messages > 0
            && (policy.max_messages.is_some_and(|max| self.messages >= max)
                || policy
                    .max_bytes
                    .is_some_and(|max| self.bytes.saturating_add(len) > max));
        !expired && !exhausted
    }
}

#[derive(Default)]
pub(crate) struct EncryptCache {
    current: Mutex<Option<Current>>,
    /// Held by the task fetching a new data key; the others wait on it, then find the new key,
    /// or the error of the fetch they waited for (kept in the gate).
    pub(crate) refill: tokio::sync::Mutex<Option<Error>>,
    /// Fetches finished so far, successful or not: a task that saw `n` before waiting at the
    /// gate knows, finding more, that a fetch ended while it waited.
    fetches: AtomicU64,
}

impl EncryptCache {
    fn lock(&self) -> MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current key, counted as used for one message of `len` bytes, if the policy still
    /// allows it; an exhausted key is dropped (and wiped once no encryption holds it).
    pub(crate) fn take(&self, policy: &CachePolicy, len: u64) -> Option<Arc<DataKey>> {
        let mut current = self.lock();
        let c = current.as_mut()?;
        if !c.allows(policy, len) {
            *current = None;
            return None;
        }
        c.messages += 1;
        c.bytes = c.bytes.saturating_add(len);
        Some(c.key.clone())
    }

    /// Whether a current key could seal a message now (nothing is counted).
    pub(crate) fn is_usable(&self, policy: &CachePolicy) -> bool {
        self.lock().as_ref().is_some_and(|c| c.allows(policy, 0))
    }

    /// Makes `key` current, already used by `messages` messages of `bytes` bytes in all.
    pub(crate) fn install(&self, key: Arc<DataKey>, messages: u64, bytes: u64) {
        *self.lock() = Some(Current {
            key,
            fetched: Instant::now(),
            messages,
            bytes,
        });
    }

    /// How many fetches have finished; read before waiting at the gate.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Acquire)
    }

    /// Records the end of a fetch in the gate its fetcher holds: `failure` is what the tasks
    /// waiting for it will get, unless it succeeded.
    pub(crate) fn fetch_ended(&self, gate: &mut Option<Error>, failure: Option<Error>) {
        *gate = failure;
        self.fetches.fetch_add(1, Ordering::Release);
    }

    /// The failure of a fetch that ended after the caller saw `seen` fetches, if it failed.
    pub(crate) fn failed_since(&self, seen: u64, gate: &Option<Error>) -> Option<Error> {
        if self.fetches() == seen {
            return None;
        }
        gate.clone()
    }

    /// Drops the current key.
    pub(crate) fn clear(&self) {
        *self.lock() = None;
    }
}
