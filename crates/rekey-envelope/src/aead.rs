//! AES-256-GCM encryption into kind-0x01 envelopes.
//!
//! The envelope header (which includes the random nonce) is part of the
//! AEAD associated data, so the key name, key version and kind recorded in
//! a ciphertext cannot be changed without failing authentication. The
//! header is self-delimiting, so `header || associated_data` is
//! unambiguous.

use core::fmt;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use super::error::CryptoError;
use super::format::{
    header_len, validate_key_name, validate_key_version, write_prefix, Envelope, Kind, NONCE_LEN,
    TAG_LEN,
};
use super::material::KeyMaterial;
use super::rng;

/// Header + caller AD up to this size is assembled on the stack, avoiding
/// a heap allocation per operation in the common case.
const STACK_AAD_LEN: usize = 256;

/// One key version's AES-256-GCM cipher with its expanded key schedule.
///
/// Built once per key version and reused; aes-gcm's `zeroize` feature wipes
/// the round keys and GHASH key when it is dropped.
pub struct EncryptionKey {
    cipher: Aes256Gcm,
}

impl EncryptionKey {
    /// Expands `material` into an AES-256-GCM cipher.
    #[must_use]
    pub fn new(material: &KeyMaterial) -> EncryptionKey {
        let key: &Array<u8, _> = material.expose().into();
        EncryptionKey {
            cipher: Aes256Gcm::new(key),
        }
    }

    /// The expanded cipher, for the other formats sealed with a version's key as it is
    /// (Vault Transit's, in `vault.rs`).
    pub(crate) fn cipher(&self) -> &Aes256Gcm {
        &self.cipher
    }

    /// Builds a kind-0x01 envelope with a fresh random 96-bit nonce.
    ///
    /// # Errors
    /// [`CryptoError::Format`] for an invalid key name or version 0.
    ///
    /// AES-GCM also refuses a message of more than 2^36 - 32 bytes (64 GiB)
    /// of plaintext or 2^61 - 1 bytes of associated data. No request can
    /// reach that, and [`CryptoError`] has no variant for it, so it is
    /// reported as [`CryptoError::AuthenticationFailed`] rather than a panic.
    ///
    /// # Panics
    /// Only if the OS random number generator fails.
    pub fn encrypt(
        &self,
        key_name: &str,
        key_version: u32,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng::fill(&mut nonce);
        self.encrypt_with_nonce(key_name, key_version, nonce, plaintext, associated_data)
    }

    /// Same as [`EncryptionKey::encrypt`] with a caller-given nonce.
    ///
    /// For test vectors only. Reusing a nonce with the same key is
    /// catastrophic for AES-GCM: it reveals the XOR of the two plaintexts
    /// and lets an attacker forge tags for arbitrary messages. Production
    /// code must call `encrypt`.
    ///
    /// # Errors
    /// As for [`EncryptionKey::encrypt`].
    #[doc(hidden)]
    pub fn encrypt_with_nonce(
        &self,
        key_name: &str,
        key_version: u32,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        // Validate before allocating (write_prefix checks again, cheaply).
        validate_key_name(key_name)?;
        validate_key_version(key_version)?;
        let total = header_len(Kind::Ciphertext, key_name.len())
            .checked_add(plaintext.len())
            .and_then(|n| n.checked_add(TAG_LEN))
            .ok_or(CryptoError::AuthenticationFailed)?;

        // Refuse oversized input before allocating (see "Errors" above).
        if exceeds_gcm_limits(plaintext.len(), associated_data.len()) {
            return Err(CryptoError::AuthenticationFailed);
        }

        // One allocation of the exact final size: header, then the plaintext
        // encrypted in place, then the tag.
        let mut out = Vec::with_capacity(total);
        write_prefix(&mut out, Kind::Ciphertext, key_name, key_version)?;
        out.extend_from_slice(&nonce);
        let header_len = out.len();
        out.extend_from_slice(plaintext);

        // Cannot panic: `header_len` is exactly what was written before.
        let (header, body) = out.split_at_mut(header_len);
        let mut stack = [0u8; STACK_AAD_LEN];
        let mut heap = Vec::new();
        let aad = join_aad(header, associated_data, &mut stack, &mut heap);
        let tag = self
            .cipher
            .encrypt_inout_detached((&nonce).into(), aad, body.into())
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts a ciphertext envelope made with this key and the same
    /// `associated_data`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKind`] for a signature envelope;
    /// [`CryptoError::AuthenticationFailed`] if the tag does not verify
    /// (modified bytes, wrong key, or different associated data), and for
    /// a body past AES-GCM's size limit, which no genuine ciphertext has.
    pub fn decrypt(
        &self,
        envelope: &Envelope<'_>,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if envelope.kind != Kind::Ciphertext {
            return Err(CryptoError::WrongKind {
                expected: Kind::Ciphertext,
                found: envelope.kind,
            });
        }
        let body = envelope.body();
        let ciphertext_len = body
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::AuthenticationFailed)?;
        if exceeds_gcm_limits(ciphertext_len, associated_data.len()) {
            return Err(CryptoError::AuthenticationFailed);
        }
        let (ciphertext, tag) = body
            .split_at_checked(ciphertext_len)
            .ok_or(CryptoError::AuthenticationFailed)?;
        let tag = <&Array<u8, _>>::try_from(tag).map_err(|_| CryptoError::AuthenticationFailed)?;
        let nonce = envelope
            .nonce()
            .and_then(|n| <&Array<u8, _>>::try_from(n).ok())
            .ok_or(CryptoError::AuthenticationFailed)?;

        let mut stack = [0u8; STACK_AAD_LEN];
        let mut heap = Vec::new();
        let aad = join_aad(envelope.header(), associated_data, &mut stack, &mut heap);

        // Decrypt straight from the borrowed input into a wiped-on-drop
        // buffer; the tag is verified before any plaintext is written.
        let mut plaintext = Zeroizing::new(vec![0u8; ciphertext_len]);
        let buf = InOutBuf::new(ciphertext, plaintext.as_mut_slice())
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        self.cipher
            .decrypt_inout_detached(nonce, aad, buf, tag)
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(plaintext)
    }
}

/// Whether a message is past AES-GCM's per-message limits: 2^36 - 32 bytes
/// of plaintext, 2^61 - 1 bytes of associated data (the envelope header, at
/// most 21 + 64 = 85 bytes, is prepended to the caller's; 128 covers it).
/// Checked up front so nothing is allocated for a message GCM would refuse.
fn exceeds_gcm_limits(message_len: usize, associated_data_len: usize) -> bool {
    let too_long = |len: usize, max: u64| u64::try_from(len).map_or(true, |n| n > max);
    too_long(message_len, aes_gcm::P_MAX) || too_long(associated_data_len, aes_gcm::A_MAX - 128)
}

/// Returns `header || associated_data`, built in `stack` when it fits and
/// in `heap` otherwise. AES-GCM pads the associated data to 16-byte blocks
/// internally, so the two parts must be one contiguous slice.
fn join_aad<'b>(
    header: &[u8],
    associated_data: &[u8],
    stack: &'b mut [u8; STACK_AAD_LEN],
    heap: &'b mut Vec<u8>,
) -> &'b [u8] {
    let len = header.len().saturating_add(associated_data.len());
    if let Some(dst) = stack.get_mut(..len) {
        if let Some((head, tail)) = dst.split_at_mut_checked(header.len()) {
            // Lengths match by construction of `len`.
            head.copy_from_slice(header);
            tail.copy_from_slice(associated_data);
        }
        return dst;
    }
    heap.reserve_exact(len);
    heap.extend_from_slice(header);
    heap.extend_from_slice(associated_data);
    heap
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_no_key_bytes, sample_key_bytes, TestRng};
    use crate::FormatError;

    fn sample_key() -> EncryptionKey {
        EncryptionKey::new(&KeyMaterial::from_bytes(sample_key_bytes()))
    }

    fn round_trip(key: &EncryptionKey, plaintext: &[u8], ad: &[u8]) {
        let ct = key.encrypt("orders", 2, plaintext, ad).expect("encrypts");
        assert_eq!(ct.len(), 21 + 6 + plaintext.len() + 16);
        assert_eq!(ct.capacity(), ct.len(), "allocated exactly once");
        let env = Envelope::parse(&ct).expect("parses");
        assert_eq!(
            (env.kind, env.key_name, env.key_version),
            (Kind::Ciphertext, "orders", 2)
        );
        let pt = key.decrypt(&env, ad).expect("decrypts");
        assert_eq!(pt.as_slice(), plaintext);
    }

    #[test]
    fn round_trips() {
        let key = sample_key();
        let big: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
        for plaintext in [&b""[..], b"x", &big] {
            for ad in [&b""[..], b"tenant=42", &[0x5Au8; 1000][..]] {
                round_trip(&key, plaintext, ad);
            }
        }
    }

    #[test]
    fn ciphertext_is_not_the_plaintext_and_nonces_differ() {
        let key = sample_key();
        let a = key.encrypt("k", 1, b"attack at dawn!!", b"").expect("ok");
        let b = key.encrypt("k", 1, b"attack at dawn!!", b"").expect("ok");
        assert_ne!(a, b);
        assert!(!a.windows(16).any(|w| w == b"attack at dawn!!"));
    }

    #[test]
    fn matches_aes_gcm_used_directly() {
        // Independent computation: the body must be plain AES-256-GCM with
        // AAD = header || associated data.
        use aes_gcm::aead::{Aead, Payload};
        let nonce = [0x11u8; NONCE_LEN];
        let ct = sample_key()
            .encrypt_with_nonce("vec", 5, nonce, b"hello", b"ctx")
            .expect("ok");
        let header =
            b"RK\x01\x01\x03vec\x00\x00\x00\x05\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11";
        assert_eq!(&ct[..header.len()], header);
        let mut aad = header.to_vec();
        aad.extend_from_slice(b"ctx");
        let cipher = Aes256Gcm::new((&sample_key_bytes()).into());
        let expected = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: b"hello",
                    aad: &aad,
                },
            )
            .expect("ok");
        assert_eq!(&ct[header.len()..], expected.as_slice());
    }

    #[test]
    fn wrong_associated_data_or_key_fails() {
        let key = sample_key();
        let ct = key.encrypt("k", 1, b"secret", b"ad-1").expect("ok");
        let env = Envelope::parse(&ct).expect("parses");
        assert_eq!(
            key.decrypt(&env, b"ad-2").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert_eq!(
            key.decrypt(&env, b"").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        let other = EncryptionKey::new(&KeyMaterial::generate());
        assert_eq!(
            other.decrypt(&env, b"ad-1").unwrap_err(),
            CryptoError::AuthenticationFailed
        );

        // Associated data longer than the stack buffer takes the heap path.
        let long_ad = vec![3u8; 5000];
        let ct = key.encrypt("k", 1, b"secret", &long_ad).expect("ok");
        let env = Envelope::parse(&ct).expect("parses");
        assert!(key.decrypt(&env, &long_ad).is_ok());
        assert!(key.decrypt(&env, &long_ad[1..]).is_err());
    }

    #[test]
    fn every_bit_flip_fails() {
        let key = sample_key();
        let ct = key.encrypt("flip", 7, b"0123456789", b"ad").expect("ok");
        for bit in 0..ct.len() * 8 {
            let mut altered = ct.clone();
            altered[bit / 8] ^= 1 << (bit % 8);
            // Header flips may fail to parse; anything else must fail auth.
            let result = Envelope::parse(&altered)
                .map_err(CryptoError::from)
                .and_then(|env| key.decrypt(&env, b"ad"));
            assert!(result.is_err(), "bit {bit} flip was accepted");
        }
    }

    #[test]
    fn every_truncation_fails() {
        let key = sample_key();
        let ct = key.encrypt("trunc", 1, b"some plaintext", b"").expect("ok");
        for len in 0..ct.len() {
            let result = Envelope::parse(&ct[..len])
                .map_err(CryptoError::from)
                .and_then(|env| key.decrypt(&env, b""));
            assert!(result.is_err(), "truncation to {len} was accepted");
        }
    }

    #[test]
    fn random_envelopes_never_decrypt() {
        let key = sample_key();
        let mut rng = TestRng::new(77);
        for _ in 0..5_000 {
            let len = rng.below(40) + 38;
            let mut bytes = rng.bytes(len);
            bytes[..5].copy_from_slice(b"RK\x01\x01\x01");
            bytes[5] = b'k';
            bytes[6..10].copy_from_slice(&1u32.to_be_bytes());
            let env = Envelope::parse(&bytes).expect("structurally valid");
            assert_eq!(
                key.decrypt(&env, b"").unwrap_err(),
                CryptoError::AuthenticationFailed
            );
        }
    }

    #[test]
    fn rejects_signatures() {
        let sig = crate::SigningKey::new(&KeyMaterial::generate())
            .sign("k", 1, b"m")
            .expect("ok");
        let env = Envelope::parse(&sig).expect("parses");
        assert_eq!(
            sample_key().decrypt(&env, b"").unwrap_err(),
            CryptoError::WrongKind {
                expected: Kind::Ciphertext,
                found: Kind::Signature
            }
        );
    }

    #[test]
    fn validates_name_and_version() {
        let key = sample_key();
        assert_eq!(
            key.encrypt("k", 0, b"", b"").unwrap_err(),
            CryptoError::Format(FormatError::ZeroKeyVersion)
        );
        for name in ["", "bad name", &"a".repeat(65)] {
            assert_eq!(
                key.encrypt(name, 1, b"", b"").unwrap_err(),
                CryptoError::Format(FormatError::InvalidKeyName)
            );
        }
        let long_name = "a".repeat(64);
        let ct = key
            .encrypt(&long_name, u32::MAX, b"p", b"")
            .expect("64 is allowed");
        let env = Envelope::parse(&ct).expect("parses");
        assert_eq!(
            (env.key_name, env.key_version),
            (long_name.as_str(), u32::MAX)
        );
    }

    #[test]
    fn join_aad_concatenates_on_both_paths() {
        let mut stack = [0u8; STACK_AAD_LEN];
        let mut heap = Vec::new();
        assert_eq!(
            join_aad(b"head", b"tail", &mut stack, &mut heap),
            b"headtail"
        );
        let big = vec![1u8; STACK_AAD_LEN];
        let mut stack = [0u8; STACK_AAD_LEN];
        let joined = join_aad(b"h", &big, &mut stack, &mut heap);
        assert_eq!(joined.len(), STACK_AAD_LEN + 1);
        assert_eq!(joined[0], b'h');
    }

    #[test]
    fn gcm_length_limits() {
        assert!(!exceeds_gcm_limits(0, 0));
        assert!(!exceeds_gcm_limits(1 << 30, 1 << 30));
        let p_max = usize::try_from(aes_gcm::P_MAX).unwrap_or(usize::MAX);
        assert!(!exceeds_gcm_limits(p_max, 0));
        assert!(exceeds_gcm_limits(p_max.saturating_add(1), 0));
        assert!(exceeds_gcm_limits(0, usize::MAX));
    }

    #[test]
    fn debug_is_redacted() {
        let rendered = format!("{:?} {:#?}", sample_key(), sample_key());
        assert!(rendered.starts_with("EncryptionKey(<redacted>)"));
        assert_no_key_bytes(&rendered, &sample_key_bytes());
    }
}
