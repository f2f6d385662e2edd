//! A hook for metrics: every rpc attempt and every data-key cache hit or miss is reported to
//! an [`Observer`] set on the client builder. Nothing secret is ever passed to it.

use crate::error::Error;

/// A data-key cache event of an [`EnvelopeCipher`](crate::EnvelopeCipher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// An encryption used the cached data key.
    EncryptHit,
    /// An encryption needed a new data key (one GenerateDataKey call).
    EncryptMiss,
    /// A decryption found its data key already unwrapped.
    DecryptHit,
    /// A decryption had to unwrap its data key (one Decrypt call).
    DecryptMiss,
    /// An unwrapped data key left the cache (age, size) and was wiped.
    Evicted,
}

/// Receives the client's events; both methods default to doing nothing. Called inline, so
/// keep them cheap (increment a counter).
pub trait Observer: Send + Sync + 'static {
    /// After each attempt of an rpc (`attempt` counts from 1): `None` when it succeeded.
    fn on_attempt(&self, rpc: &'static str, attempt: u32, error: Option<&Error>) {
        let _ = (rpc, attempt, error);
    }

    /// On each data-key cache event of an envelope cipher of key `key_name`.
    fn on_cache(&self, key_name: &str, event: CacheEvent) {
        let _ = (key_name, event);
    }
}
