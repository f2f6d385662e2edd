//! Local envelope encryption: values sealed on the caller's machine under a data key that the
//! server generated and wrapped (format: docs/ciphertext-format.md, kind 0x03). One
//! GenerateDataKey call serves many encryptions and one Decrypt call many decryptions.

mod decrypt_cache;
mod encrypt_cache;
mod policy;
mod stream;
mod stream_io;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rekey_envelope::{DataKey, EnvelopeCiphertext, DATA_KEY_AAD};
use rekey_proto::{DecryptRequest, GenerateDataKeyRequest};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::Error;
use crate::observer::CacheEvent;
use decrypt_cache::DecryptCache;
use encrypt_cache::EncryptCache;
pub use policy::CachePolicy;
pub use stream::{read_stream_header, StreamOptions};
pub use stream_io::{DecryptReader, EncryptWriter};

/// Counters of an [`EnvelopeCipher`]'s caches since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Encryptions that used the cached data key.
    pub encrypt_hits: u64,
    /// Data keys fetched (GenerateDataKey calls that succeeded).
    pub encrypt_misses: u64,
    /// Decryptions whose data key was already unwrapped.
    pub decrypt_hits: u64,
    /// Data keys unwrapped (Decrypt calls that succeeded).
    pub decrypt_misses: u64,
    /// Unwrapped data keys dropped from the decrypt cache (age, size, `forget`).
    pub evictions: u64,
}

#[derive(Default)]
struct Counters {
    encrypt_hits: AtomicU64,
    encrypt_misses: AtomicU64,
    decrypt_hits: AtomicU64,
    decrypt_misses: AtomicU64,
    evictions: AtomicU64,
}

/// Encrypts and decrypts locally under cached data keys of one key; cheap to clone (clones
/// share the caches), `Send + Sync`. Made by [`Client::envelope`].
///
/// What is cached, and the trade-off: plaintext data keys stay in this process's memory for
/// up to the policy's limits (wiped when dropped). A process compromised meanwhile exposes
/// the values sealed under those keys; revoking the caller's token does not reach keys
/// already cached. Short `max_age` narrows both windows at the cost of more calls.
#[derive(Clone)]
pub struct EnvelopeCipher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    key_name: String,
    policy: CachePolicy,
    encrypt: EncryptCache,
    decrypt: DecryptCache,
    counters: Counters,
}

impl fmt::Debug for EnvelopeCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeCipher")
            .field("key_name", &self.inner.key_name)
            .field("policy", &self.inner.policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// An envelope cipher for `key_name` (an encryption key) with the given cache policy.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed key name. Nothing is sent yet; see
    /// [`EnvelopeCipher::warm`].
    pub fn envelope(&self, key_name: &str, policy: CachePolicy) -> Result<EnvelopeCipher, Error> {
        rekey_envelope::validate_key_name(key_name).map_err(|e| Error::InvalidArgument {
            message: e.to_string(),
        })?;
        Ok(EnvelopeCipher {
            inner: Arc::new(Inner {
                client: self.clone(),
                key_name: key_name.to_owned(),
                policy,
                encrypt: EncryptCache::default(),
                decrypt: DecryptCache::new(policy.decrypt_entries, policy.decrypt_ttl),
                counters: Counters::default(),
            }),
        })
    }
}

impl EnvelopeCipher {
    /// The key this cipher encrypts under and accepts values of.
    #[must_use]
    pub fn key_name(&self) -> &str {
        &self.inner.key_name
    }

    /// Seals `plaintext` locally, binding `associated_data` (give the same bytes to decrypt,
    /// e.g. the row id the value is stored under). Calls GenerateDataKey only when the cached
    /// data key is missing or used up; concurrent callers then wait for one call.
    ///
    /// # Errors
    /// The error of GenerateDataKey (e.g. [`Error::KeyNotFound`], [`Error::FailedPrecondition`]
    /// for a signing key); [`Error::TooLarge`] past AES-GCM's 64 GiB message limit.
    pub async fn encrypt(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let key = self.encrypt_key(plaintext.len() as u64).await?;
        key.seal(plaintext, associated_data)
            .map_err(|_| Error::TooLarge {
                message: format!(
                    "plaintext of {} bytes is beyond AES-GCM's limit for one message",
                    plaintext.len()
                ),
            })
    }

    /// Opens an envelope value made by [`EnvelopeCipher::encrypt`] (by any process, for this
    /// cipher's key) with the same `associated_data`. Calls Decrypt only to unwrap a data key
    /// not in the cache. Never returns anything but the authenticated plaintext.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] for a value that is not an envelope ciphertext of this
    /// cipher's key; [`Error::AuthenticationFailed`] for a modified value or different
    /// associated data; the error of Decrypt when the data key cannot be unwrapped
    /// ([`Error::VersionRetired`], [`Error::PermissionDenied`], ...).
    pub async fn decrypt(
        &self,
        value: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let parsed = EnvelopeCiphertext::parse(value).map_err(|e| Error::InvalidCiphertext {
            message: e.to_string(),
        })?;
        self.check_key_name(parsed.key_name())?;
        let key = self
            .decrypt_key(parsed.key_name(), parsed.wrapped_key())
            .await?;
        key.open_parsed(&parsed, associated_data)
            .map_err(|_| Error::AuthenticationFailed {
                message: "envelope ciphertext failed authentication: it was modified, or the \
                          associated data differs from the one used to encrypt it"
                    .into(),
            })
    }

    /// Fetches a data key now if none is cached, so the first encryption does not wait.
    ///
    /// # Errors
    /// The error of GenerateDataKey.
    pub async fn warm(&self) -> Result<(), Error> {
        let cache = &self.inner.encrypt;
        let seen = cache.fetches();
        let mut refill = cache.refill.lock().await;
        if cache.is_usable(&self.inner.policy) {
            return Ok(());
        }
        if let Some(err) = cache.failed_since(seen, &refill) {
            return Err(err);
        }
        let result = self.fetch().await;
        cache.fetch_ended(&mut refill, result.as_ref().err().cloned());
        cache.install(result?, 0, 0);
        Ok(())
    }

    /// Drops every cached data key (each wiped once no operation holds it), e.g. after the
    /// key was rotated for a suspected compromise.
    pub fn forget(&self) {
        self.inner.encrypt.clear();
        let n = self.inner.decrypt.clear();
        self.inner
            .counters
            .evictions
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Cache hits, misses and evictions so far.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            encrypt_hits: c.encrypt_hits.load(Ordering::Relaxed),
            encrypt_misses: c.encrypt_misses.load(Ordering::Relaxed),
            decrypt_hits: c.decrypt_hits.load(Ordering::Relaxed),
            decrypt_misses: c.decrypt_misses.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
        }
    }

    /// The cached data key, counted for one message of `len` bytes, or a new one.
    ///
    /// The hit path stays out of the miss path's future: that one holds a gRPC call (about
    /// 3 KB of state), and an async fn's future is copied into its caller's on every call,
    /// so inlining it would make every cached encryption pay that copy. Boxed, only a miss
    /// allocates it.
    async fn encrypt_key(&self, len: u64) -> Result<Arc<DataKey>, Error> {
        let inner = &self.inner;
        if let Some(key) = inner.encrypt.take(&inner.policy, len) {
            self.count(CacheEvent::EncryptHit, &inner.counters.encrypt_hits, 1);
            return Ok(key);
        }
        Box::pin(self.refill_encrypt_key(len)).await
    }

    /// [`Self::encrypt_key`] on a miss: one task fetches (single flight), the others wait
    /// for its key or its error.
    async fn refill_encrypt_key(&self, len: u64) -> Result<Arc<DataKey>, Error> {
        let inner = &self.inner;
        let seen = inner.encrypt.fetches();
        let mut refill = inner.encrypt.refill.lock().await;
        // Whoever held the gate before us may have fetched a key we can use, or failed to:
        // then its error is ours too, rather than one more call after it, and the next
        // encryption (not waiting on that fetch) tries again.
        if let Some(key) = inner.encrypt.take(&inner.policy, len) {
            self.count(CacheEvent::EncryptHit, &inner.counters.encrypt_hits, 1);
            return Ok(key);
        }
        if let Some(err) = inner.encrypt.failed_since(seen, &refill) {
            return Err(err);
        }
        let result = self.fetch().await;
        inner
            .encrypt
            .fetch_ended(&mut refill, result.as_ref().err().cloned());
        let key = result?;
        inner.encrypt.install(key.clone(), 1, len);
        Ok(key)
    }

    /// One GenerateDataKey call; the key also goes to the decrypt cache, so this process
    /// opens its own values without a Decrypt call.
    async fn fetch(&self) -> Result<Arc<DataKey>, Error> {
        let inner = &self.inner;
        let mut response = inner
            .client
            .generate_data_key(GenerateDataKeyRequest {
                key_name: inner.key_name.clone(),
                associated_data: DATA_KEY_AAD.to_vec(),
            })
            .await?;
        let wrapped = std::mem::take(&mut response.wrapped_key);
        let key = DataKey::new(
            &inner.key_name,
            response.key_version,
            &response.plaintext_key,
            wrapped,
        )
        .map_err(|e| Error::Internal {
            message: format!("the server's GenerateDataKey answer is not a usable data key: {e}"),
        })?;
        let key = Arc::new(key);
        self.count(CacheEvent::EncryptMiss, &inner.counters.encrypt_misses, 1);
        let evicted = inner.decrypt.insert(key.clone());
        self.count(CacheEvent::Evicted, &inner.counters.evictions, evicted);
        Ok(key)
    }

    /// Refuses a value sealed under another key than this cipher's.
    fn check_key_name(&self, key_name: &str) -> Result<(), Error> {
        if key_name == self.inner.key_name {
            return Ok(());
        }
        Err(Error::InvalidCiphertext {
            message: format!(
                "the value was sealed under key {key_name:?}; this cipher is for key {:?}",
                self.inner.key_name
            ),
        })
    }

    /// The data key of a value (envelope or stream) that embeds `wrapped`, from the cache
    /// or one Decrypt call shared by everyone waiting for the same key.
    /// The cached data key of `wrapped`, or the one Decrypt unwraps; the miss path is
    /// boxed for the reason given at [`Self::encrypt_key`].
    async fn decrypt_key(&self, key_name: &str, wrapped: &[u8]) -> Result<Arc<DataKey>, Error> {
        if let Some(key) = self.cached(wrapped) {
            return Ok(key);
        }
        Box::pin(self.unwrap_once(key_name, wrapped)).await
    }

    /// [`Self::decrypt_key`] on a miss: one Decrypt per wrapped key at a time (single
    /// flight); the others wait for its key or its error.
    async fn unwrap_once(&self, key_name: &str, wrapped: &[u8]) -> Result<Arc<DataKey>, Error> {
        let inner = &self.inner;
        let gate = inner.decrypt.gate(wrapped);
        let mut unwrapping = gate.lock().await;
        if let Some(key) = self.cached(wrapped) {
            return Ok(key);
        }
        // The unwrapping we waited for failed: its error is ours (the gate is already
        // released, so the next decryption calls again).
        if let Some(err) = unwrapping.as_ref() {
            return Err(err.clone());
        }
        let result = self.unwrap_key(key_name, wrapped).await;
        inner.decrypt.release(wrapped);
        if let Err(err) = &result {
            *unwrapping = Some(err.clone());
        }
        let key = Arc::new(result?);
        self.count(CacheEvent::DecryptMiss, &inner.counters.decrypt_misses, 1);
        let evicted = inner.decrypt.insert(key.clone());
        self.count(CacheEvent::Evicted, &inner.counters.evictions, evicted);
        Ok(key)
    }

    fn cached(&self, wrapped: &[u8]) -> Option<Arc<DataKey>> {
        let counters = &self.inner.counters;
        let (key, expired) = self.inner.decrypt.get(wrapped);
        self.count(CacheEvent::Evicted, &counters.evictions, expired);
        let key = key?;
        self.count(CacheEvent::DecryptHit, &counters.decrypt_hits, 1);
        Some(key)
    }

    /// One Decrypt call of the embedded wrapped key.
    async fn unwrap_key(&self, key_name: &str, wrapped: &[u8]) -> Result<DataKey, Error> {
        let response = self
            .inner
            .client
            .decrypt(DecryptRequest {
                ciphertext: wrapped.to_vec(),
                associated_data: DATA_KEY_AAD.to_vec(),
                key_name: String::new(),
            })
            .await?;
        DataKey::new(
            key_name,
            response.key_version,
            &response.plaintext,
            wrapped.to_vec(),
        )
        .map_err(|_| Error::InvalidCiphertext {
            message: "the value's embedded data key does not unwrap to a data key".into(),
        })
    }

    fn count(&self, event: CacheEvent, counter: &AtomicU64, n: u64) {
        if n == 0 {
            return;
        }
        counter.fetch_add(n, Ordering::Relaxed);
        if let Some(observer) = self.inner.client.observer() {
            for _ in 0..n {
                observer.on_cache(&self.inner.key_name, event);
            }
        }
    }
}
