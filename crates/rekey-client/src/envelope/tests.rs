//! The caches' limits without a server: data keys are made here as the server would.

use std::sync::Arc;
use std::time::Duration;

use rekey_envelope::{DataKey, EncryptionKey, KeyMaterial, DATA_KEY_AAD};

use super::decrypt_cache::DecryptCache;
use super::encrypt_cache::EncryptCache;
use super::policy::CachePolicy;

fn data_key(name: &str) -> Arc<DataKey> {
    let wrapping = EncryptionKey::new(&KeyMaterial::generate());
    let plain = KeyMaterial::generate();
    let wrapped = wrapping
        .encrypt(name, 1, plain.expose(), DATA_KEY_AAD)
        .unwrap();
    Arc::new(DataKey::new(name, 1, plain.expose(), wrapped).unwrap())
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_key_serves_until_max_messages() {
    let policy = CachePolicy::new(HOUR).max_messages(3);
    let cache = EncryptCache::default();
    assert!(cache.take(&policy, 1).is_none(), "cold cache");
    cache.install(data_key("K"), 1, 1);
    assert!(cache.take(&policy, 1).is_some());
    assert!(cache.take(&policy, 1).is_some());
    assert!(
        cache.take(&policy, 1).is_none(),
        "4th message needs a new key"
    );
    assert!(
        cache.take(&policy, 1).is_none(),
        "the exhausted key is gone"
    );
}

#[test]
fn a_key_serves_until_max_bytes_but_always_takes_its_first_message() {
    let policy = CachePolicy::new(HOUR).max_bytes(100);
    let cache = EncryptCache::default();
    cache.install(data_key("K"), 0, 0);
    assert!(
        cache.take(&policy, 500).is_some(),
        "a fresh key takes one big message"
    );
    cache.install(data_key("K"), 1, 60);
    assert!(cache.take(&policy, 40).is_some());
    assert!(cache.take(&policy, 1).is_none(), "101 bytes > 100");
}

#[test]
fn a_key_expires_at_max_age() {
    let policy = CachePolicy::new(Duration::from_millis(30));
    let cache = EncryptCache::default();
    cache.install(data_key("K"), 0, 0);
    assert!(cache.is_usable(&policy));
    assert!(cache.take(&policy, 1).is_some());
    std::thread::sleep(Duration::from_millis(40));
    assert!(!cache.is_usable(&policy));
    assert!(cache.take(&policy, 1).is_none());
}

#[test]
fn unlimited_messages_by_default() {
    let policy = CachePolicy::new(HOUR);
    let cache = EncryptCache::default();
    cache.install(data_key("K"), 0, 0);
    for _ in 0..10_000 {
        assert!(cache.take(&policy, 1024).is_some());
    }
}

#[test]
fn the_decrypt_cache_evicts_the_least_recently_used() {
    let cache = DecryptCache::new(2, HOUR);
    let (a, b, c) = (data_key("K"), data_key("K"), data_key("K"));
    assert_eq!(cache.insert(a.clone()), 0);
    assert_eq!(cache.insert(b.clone()), 0);
    assert!(
        cache.get(a.wrapped_key()).0.is_some(),
        "a is now more recent than b"
    );
    assert_eq!(cache.insert(c.clone()), 1);
    assert_eq!(cache.len(), 2);
    assert!(
        cache.get(b.wrapped_key()).0.is_none(),
        "b was least recently used"
    );
    assert!(cache.get(a.wrapped_key()).0.is_some());
    assert!(cache.get(c.wrapped_key()).0.is_some());
}

#[test]
fn the_decrypt_cache_forgets_keys_after_the_ttl() {
    let cache = DecryptCache::new(10, Duration::from_millis(30));
    let a = data_key("K");
    cache.insert(a.clone());
    assert!(cache.get(a.wrapped_key()).0.is_some());
    std::thread::sleep(Duration::from_millis(40));
    let (key, expired) = cache.get(a.wrapped_key());
    assert!(key.is_none());
    assert_eq!(expired, 1);
    assert_eq!(cache.len(), 0);
}

#[test]
fn a_zero_capacity_decrypt_cache_keeps_nothing() {
    let cache = DecryptCache::new(0, HOUR);
    let a = data_key("K");
    cache.insert(a.clone());
    assert!(cache.get(a.wrapped_key()).0.is_none());
}

#[test]
fn dropping_the_last_holder_drops_the_key() {
    // The cache holds the only other reference: after eviction, ours is the last one, so the
    // key (and its zeroizing buffer) is dropped with it.
    let cache = DecryptCache::new(1, HOUR);
    let a = data_key("K");
    cache.insert(a.clone());
    assert_eq!(Arc::strong_count(&a), 2);
    cache.insert(data_key("K"));
    assert_eq!(Arc::strong_count(&a), 1);
}
