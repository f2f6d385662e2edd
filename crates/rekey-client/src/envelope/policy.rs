//! How long and how much one cached data key may be used, and how many unwrapped data keys
//! the decrypt side keeps.

use std::time::Duration;

/// Limits of an [`EnvelopeCipher`](crate::EnvelopeCipher)'s data-key caches.
///
/// Encrypt side: one data key is reused until it is `max_age` old, or has sealed
/// `max_messages` values, or `max_bytes` of plaintext, whichever comes first; then the next
/// encryption fetches a new one (one GenerateDataKey call). Every value still gets its own
/// HKDF-derived key and nonce, so these limits bound exposure, not AES-GCM's nonce budget.
///
/// Decrypt side: up to `decrypt_entries` unwrapped data keys, each kept `decrypt_ttl` after
/// it was unwrapped (least recently used first out when full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub(crate) max_age: Duration,
    pub(crate) max_messages: Option<u64>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) decrypt_entries: usize,
    pub(crate) decrypt_ttl: Duration,
}

impl CachePolicy {
    /// A policy whose data keys live at most `max_age` (required: a key that is never
    /// replaced would outlive every rotation), with no message or byte limit, and a decrypt
    /// cache of 1,000 keys kept `max_age` each.
    #[must_use]
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            max_messages: None,
            max_bytes: None,
            decrypt_entries: 1_000,
            decrypt_ttl: max_age,
        }
    }

    /// At most `n` values sealed under one data key (at least 1).
    #[must_use]
    pub fn max_messages(mut self, n: u64) -> Self {
        self.max_messages = Some(n.max(1));
        self
    }

    /// At most `n` plaintext bytes sealed under one data key. A single larger message still
    /// gets a data key of its own.
    #[must_use]
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = Some(n);
        self
    }

    /// How many unwrapped data keys the decrypt side keeps (0: none, every decryption of a
    /// new value calls Decrypt).
    #[must_use]
    pub fn decrypt_entries(mut self, n: usize) -> Self {
        self.decrypt_entries = n;
        self
    }

    /// How long an unwrapped data key is kept after it was unwrapped.
    #[must_use]
    pub fn decrypt_ttl(mut self, ttl: Duration) -> Self {
        self.decrypt_ttl = ttl;
        self
    }
}
