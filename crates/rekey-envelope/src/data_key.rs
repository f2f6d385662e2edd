//! Sealing and opening envelope ciphertexts (kind 0x03) under a data key.
//!
//! The data key (DK) is 32 uniformly random bytes made by the server's
//! `GenerateDataKey`, so it is used directly as an HKDF pseudorandom key:
//! each message gets its own AES-256-GCM key
//! `HKDF-Expand(DK, "rekey/v1 envelope message key" || salt, 32)` from a
//! fresh 128-bit salt. The payload's associated data is
//! `bytes[0, 5+N) || salt || caller AD`: it binds the name and salt (and,
//! through the message key, the data key) but not the wrapping key version,
//! so the server can rewrap the embedded data key without the payload.
//! The info (45 bytes) and HKDF's counter fit one SHA-256 block with its
//! padding, so a message key costs two compressions: the name is bound by
//! the associated data, not by the info.

use core::fmt;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256Enc;
use aes_gcm::AesGcm;
use zeroize::Zeroizing;

use super::envelope_value::{check_wrapped_key, envelope_len, EnvelopeCiphertext, SALT_LEN};
use super::error::CryptoError;
use super::format::{
    validate_key_name, validate_key_version, write_prefix, Kind, FIXED_PREFIX_LEN, NONCE_LEN,
    VERSION_LEN,
};
use super::material::KEY_LEN;
use super::rng;
use super::short_hkdf::{ShortHkdf, MAX_INFO};

/// HKDF info label of the per-message key. Label + salt must fit one
/// SHA-256 block beside HKDF's counter and the padding.
const MESSAGE_KEY_LABEL: &[u8] = b"rekey/v1 envelope message key";
const _: () = assert!(MESSAGE_KEY_LABEL.len() + SALT_LEN <= MAX_INFO);

/// Name prefix + salt + caller AD up to this size is assembled on the
/// stack; larger associated data takes one heap allocation.
const STACK_AAD_LEN: usize = 256;

/// Largest plaintext one envelope ciphertext may carry (AES-GCM's limit).
const MAX_PAYLOAD: u64 = aes_gcm::P_MAX;

/// AES-256-GCM under a message or stream key. GCM only ever runs AES forwards (CTR mode
/// and the GHASH key), so the key setup each message pays skips the decryption round keys
/// `aes_gcm::Aes256Gcm` would also expand; the output is the same AES-256-GCM.
pub(crate) type MessageCipher = AesGcm<Aes256Enc, U12>;

/// A plaintext data key with its wrapped form, ready to seal and open
/// envelope ciphertexts locally. The key bytes are wiped on drop and never
/// shown by `Debug`.
pub struct DataKey {
    key_name: String,
    key_version: u32,
    /// The data key itself, kept so the holder can be rebuilt or compared.
    key: Zeroizing<[u8; KEY_LEN]>,
    /// The start of every value this key seals, built once: the common prefix (magic,
    /// format, kind, name, version) and the wrapped data key.
    head: Vec<u8>,
    /// Where the wrapped data key starts in `head`.
    prefix_len: usize,
    /// HKDF-Expand keyed with the data key (the PRK): HMAC's two key blocks
    /// are compressed once per data key, so a message key costs two SHA-256
    /// compressions.
    message_kdf: ShortHkdf,
}

impl DataKey {
    /// Builds a data key from a `GenerateDataKey(key_name, DATA_KEY_AAD)`
    /// answer: the plaintext key and its wrapped form.
    ///
    /// # Errors
    /// [`CryptoError::Format`] for an invalid key name or version, or
    /// `WrappedKeyMismatch` unless `wrapped_key` is a kind-0x01 ciphertext
    /// of 32 bytes under `key_name` and `key_version`;
    /// [`CryptoError::InvalidKeyLength`] unless `plaintext_key` is 32 bytes.
    pub fn new(
        key_name: &str,
        key_version: u32,
        plaintext_key: &[u8],
        wrapped_key: Vec<u8>,
    ) -> Result<DataKey, CryptoError> {
        validate_key_name(key_name)?;
        validate_key_version(key_version)?;
        let key: [u8; KEY_LEN] =
            plaintext_key
                .try_into()
                .map_err(|_| CryptoError::InvalidKeyLength {
                    len: plaintext_key.len(),
                })?;
        let key = Zeroizing::new(key);
        check_wrapped_key(&wrapped_key, key_name, Some(key_version))?;
        let mut head =
            Vec::with_capacity(FIXED_PREFIX_LEN + key_name.len() + VERSION_LEN + wrapped_key.len());
        write_prefix(&mut head, Kind::EnvelopeCiphertext, key_name, key_version)?;
        let prefix_len = head.len();
        head.extend_from_slice(&wrapped_key);
        Ok(DataKey {
            key_name: key_name.to_owned(),
            key_version,
            message_kdf: ShortHkdf::new(&key),
            key,
            head,
            prefix_len,
        })
    }

    /// Name of the key that wraps this data key.
    #[must_use]
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// Version of that key which wraps this data key.
    #[must_use]
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The wrapped data key embedded in every value this key seals.
    #[must_use]
    pub fn wrapped_key(&self) -> &[u8] {
        self.head.get(self.prefix_len..).unwrap_or_default()
    }

    /// Whether `other` holds the same data key bytes (constant time); e.g.
    /// to check that a rewrapped key still unwraps to the same data key.
    #[must_use]
    pub fn same_key_as(&self, other: &DataKey) -> bool {
        use subtle::ConstantTimeEq;
        self.key.as_slice().ct_eq(other.key.as_slice()).into()
    }

    /// Length of the value [`DataKey::seal`] makes from `plaintext_len`
    /// bytes: `122 + 2N + plaintext_len`.
    #[must_use]
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        envelope_len(self.key_name.len(), plaintext_len)
    }

    /// Seals `plaintext` into an envelope ciphertext with a fresh random
    /// salt and nonce, binding `associated_data`.
    ///
    /// # Errors
    /// [`CryptoError::AuthenticationFailed`] only for a plaintext past
    /// AES-GCM's 2^36 - 32-byte limit (no genuine message is that large).
    ///
    /// # Panics
    /// Only if the OS random number generator fails.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut salt_and_nonce = [0u8; SALT_LEN + NONCE_LEN];
        rng::fill(&mut salt_and_nonce);
        let (salt, nonce) = salt_and_nonce.split_at(SALT_LEN);
        let salt: [u8; SALT_LEN] = salt
            .try_into()
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        self.seal_with_salt_and_nonce(salt, nonce, plaintext, associated_data)
    }

    /// [`DataKey::seal`] with caller-given salt and nonce, for test vectors
    /// only: production code must call `seal`, whose random salt is what
    /// keeps every message key unique.
    ///
    /// # Errors
    /// As for [`DataKey::seal`].
    #[doc(hidden)]
    pub fn seal_with_salt_and_nonce(
        &self,
        salt: [u8; SALT_LEN],
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if u64::try_from(plaintext.len()).map_or(true, |n| n > MAX_PAYLOAD) {
            return Err(CryptoError::AuthenticationFailed);
        }
        let mut out = Vec::with_capacity(self.sealed_len(plaintext.len()));
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&salt);
        out.extend_from_slice(&nonce);
        let payload_start = out.len();
        out.extend_from_slice(plaintext);

        let cipher = self.message_cipher(&salt);
        let (head, body) = out.split_at_mut(payload_start);
        let bound_prefix = head
            .get(..5 + self.key_name.len())
            .ok_or(CryptoError::AuthenticationFailed)?;
        let mut stack = [0u8; STACK_AAD_LEN];
        let mut heap = Vec::new();
        let aad = join_aad(bound_prefix, &salt, associated_data, &mut stack, &mut heap);
        let tag = cipher
            .encrypt_inout_detached((&nonce).into(), aad, body.into())
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens an envelope ciphertext that embeds exactly this data key's
    /// wrapped key, with the same `associated_data`.
    ///
    /// A value whose embedded wrapped key differs is refused, even one the
    /// server rewrapped (same data key, new wrapping): callers look data
    /// keys up by the value's wrapped key (and unwrap that one), so a value
    /// whose wrapped key was swapped never opens under the wrong key. A
    /// value that claims this wrapped key but was sealed under another data
    /// key derives a different message key and fails authentication.
    ///
    /// # Errors
    /// [`CryptoError::Format`] if `value` is not a valid envelope
    /// ciphertext; [`CryptoError::AuthenticationFailed`] for another key
    /// name, wrapped key or data key, a modified value or different
    /// associated data.
    pub fn open(
        &self,
        value: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let parsed = EnvelopeCiphertext::parse(value)?;
        self.open_parsed(&parsed, associated_data)
    }

    /// [`DataKey::open`] of an already parsed value.
    ///
    /// # Errors
    /// As for [`DataKey::open`], minus the format errors.
    pub fn open_parsed(
        &self,
        parsed: &EnvelopeCiphertext<'_>,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if parsed.key_name() != self.key_name || parsed.wrapped_key() != self.wrapped_key() {
            // Not this data key's value (the name is also bound by the AAD
            // and the message key); see `open` for why a different
            // wrapping is refused too.
            return Err(CryptoError::AuthenticationFailed);
        }
        let salt = parsed.salt();
        let cipher = self.message_cipher(salt);
        let mut stack = [0u8; STACK_AAD_LEN];
        let mut heap = Vec::new();
        let aad = join_aad(
            parsed.bound_prefix(),
            salt,
            associated_data,
            &mut stack,
            &mut heap,
        );
        let payload = parsed.payload();
        let mut plaintext = Zeroizing::new(vec![0u8; payload.len()]);
        let buf = InOutBuf::new(payload, plaintext.as_mut_slice())
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        let tag: &Array<u8, _> = parsed.tag().into();
        cipher
            .decrypt_inout_detached(parsed.nonce().into(), aad, buf, tag)
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(plaintext)
    }

    /// The AES-256-GCM cipher of one message: its key is
    /// HKDF-Expand(DK, label || salt, 32).
    fn message_cipher(&self, salt: &[u8; SALT_LEN]) -> MessageCipher {
        self.derived_cipher(MESSAGE_KEY_LABEL, salt)
    }

    /// An AES-256-GCM cipher under `HKDF-Expand(DK, label || salt, 32)`:
    /// a message key, or a stream key (`stream.rs`, another label).
    pub(crate) fn derived_cipher(&self, label: &[u8], salt: &[u8; SALT_LEN]) -> MessageCipher {
        let derived = self.message_kdf.expand_32(&[label, salt]);
        let key: &Array<u8, _> = (&*derived).into();
        MessageCipher::new(key)
    }
}

/// Returns `prefix || salt || associated_data`, on the stack when it fits.
fn join_aad<'b>(
    prefix: &[u8],
    salt: &[u8],
    associated_data: &[u8],
    stack: &'b mut [u8; STACK_AAD_LEN],
    heap: &'b mut Vec<u8>,
) -> &'b [u8] {
    let len = prefix.len() + salt.len() + associated_data.len();
    if let Some(dst) = stack.get_mut(..len) {
        let mut at = 0;
        for part in [prefix, salt, associated_data] {
            if let Some(slot) = dst.get_mut(at..at + part.len()) {
                slot.copy_from_slice(part);
            }
            at += part.len();
        }
        return dst;
    }
    heap.reserve_exact(len);
    heap.extend_from_slice(prefix);
    heap.extend_from_slice(salt);
    heap.extend_from_slice(associated_data);
    heap
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("key_name", &self.key_name)
            .field("key_version", &self.key_version)
            .field("key", &"<redacted>")
            .field("wrapped_key_len", &self.wrapped_key().len())
            .finish()
    }
}

#[cfg(test)]
#[path = "data_key_tests.rs"]
mod tests;
