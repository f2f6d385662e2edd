//! The decrypt side's unwrapped data keys: a small LRU keyed by the wrapped key bytes, with a
//! TTL, and one async gate per wrapped key being unwrapped so that N concurrent decryptions
//! of values under one data key make one Decrypt call. Evicted keys are wiped on drop (by
//! `DataKey`) as soon as no decryption still holds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rekey_envelope::DataKey;

use crate::error::Error;

struct Entry {
    key: Arc<DataKey>,
    inserted: Instant,
    last_used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Vec<u8>, Entry>,
    inflight: HashMap<Vec<u8>, Arc<tokio::sync::Mutex<Option<Error>>>>,
    tick: u64,
}

pub(crate) struct DecryptCache {
    state: Mutex<State>,
    capacity: usize,
    ttl: Duration,
}

impl DecryptCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            state: Mutex::default(),
            capacity,
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The unwrapped key of `wrapped`, if cached and fresh; and how many keys expired.
    pub(crate) fn get(&self, wrapped: &[u8]) -> (Option<Arc<DataKey>>, u64) {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        let Some(entry) = state.entries.get_mut(wrapped) else {
            return (None, 0);
        };
        if entry.inserted.elapsed() >= self.ttl {
            state.entries.remove(wrapped);
            return (None, 1);
        }
        entry.last_used = tick;
        (Some(entry.key.clone()), 0)
    }

    /// Caches `key`; returns how many keys were evicted to make room.
    pub(crate) fn insert(&self, key: Arc<DataKey>) -> u64 {
        if self.capacity == 0 {
            return 0;
        }
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        let mut evicted = 0;
        let ttl = self.ttl;
        let before = state.entries.len();
        state.entries.retain(|_, e| e.inserted.elapsed() < ttl);
        evicted += (before - state.entries.len()) as u64;
        while state.entries.len() >= self.capacity && !state.entries.contains_key(key.wrapped_key())
        {
            // O(n) over at most `capacity` entries, only when full: no LRU crate needed.
            let oldest = state
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            state.entries.remove(&oldest);
            evicted += 1;
        }
        state.entries.insert(
            key.wrapped_key().to_vec(),
            Entry {
                key,
                inserted: Instant::now(),
                last_used: tick,
            },
        );
        evicted
    }

    /// The gate of `wrapped`: whoever holds it is unwrapping that key.
    /// It holds the unwrapping's error, if it failed, for the decryptions that waited for it.
    pub(crate) fn gate(&self, wrapped: &[u8]) -> Arc<tokio::sync::Mutex<Option<Error>>> {
        self.lock()
            .inflight
            .entry(wrapped.to_vec())
            .or_default()
            .clone()
    }

    /// Forgets the gate of `wrapped` once its unwrapping is over.
    pub(crate) fn release(&self, wrapped: &[u8]) {
        self.lock().inflight.remove(wrapped);
    }

    /// Drops every key (each wiped once no decryption holds it); returns how many.
    pub(crate) fn clear(&self) -> u64 {
        let mut state = self.lock();
        let n = state.entries.len() as u64;
        state.entries.clear();
        n
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}
