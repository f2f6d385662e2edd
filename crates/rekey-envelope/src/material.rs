//! Raw 256-bit key material for one key version.
//!
//! The bytes live in a [`Zeroizing`] array so they are wiped when the value
//! is dropped, and the type has no `Clone`, no `Display` and a redacting
//! `Debug`, so the material cannot end up in logs by accident.

use core::fmt;

use hmac::Mac;
use zeroize::{Zeroize, Zeroizing};

use super::error::CryptoError;
use super::kdf::hmac_sha256;
use super::rng;

/// Length in bytes of every key version's material (AES-256 / HMAC key).
pub const KEY_LEN: usize = 32;

/// Message MACed to compute a key check value.
const KCV_MESSAGE: &[u8] = b"rekey.v1.kcv";
/// Bytes of the MAC kept as the check value: enough to tell keys apart,
/// too few to be useful for anything else.
const KCV_LEN: usize = 8;

/// 32 bytes of secret key material, wiped on drop.
pub struct KeyMaterial(Zeroizing<[u8; KEY_LEN]>);

impl KeyMaterial {
    /// Generates fresh material: 256 bits from the OS CSPRNG (`getrandom`).
    ///
    /// # Panics
    /// Only if the operating system's random number generator fails; see
    /// the `rng` module for why that is not recoverable.
    #[must_use]
    pub fn generate() -> KeyMaterial {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng::fill(bytes.as_mut_slice());
        KeyMaterial(bytes)
    }

    /// Takes ownership of `bytes`. The argument's own copy is zeroized; the
    /// caller remains responsible for any other copies it holds.
    #[must_use]
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> KeyMaterial {
        let material = KeyMaterial(Zeroizing::new(bytes));
        bytes.zeroize();
        material
    }

    /// Copies material from a slice (e.g. a decoded or unwrapped buffer).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKeyLength`] unless `bytes` is exactly 32 long.
    pub fn from_slice(bytes: &[u8]) -> Result<KeyMaterial, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::InvalidKeyLength { len: bytes.len() });
        }
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        material.copy_from_slice(bytes);
        Ok(KeyMaterial(material))
    }

    /// The raw bytes, for building ciphers. Do not copy them anywhere that
    /// is not itself wiped.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Key check value: first 8 bytes of HMAC-SHA256(key=material,
    /// msg=b"rekey.v1.kcv"), lowercase hex (16 chars).
    ///
    /// Lets operators confirm two systems hold the same key (or that an
    /// import worked) without revealing the key: HMAC is one-way, and only
    /// 64 bits are shown.
    #[must_use]
    pub fn check_value(&self) -> String {
        let mut mac = hmac_sha256(self.expose());
        mac.update(KCV_MESSAGE);
        let tag = mac.finalize().into_bytes();
        hex::encode(tag.get(..KCV_LEN).unwrap_or_default())
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_no_key_bytes, sample_key_bytes};
    use hmac::{Hmac, KeyInit};
    use sha2::Sha256;

    #[test]
    fn from_slice_requires_exactly_32_bytes() {
        for len in [0, 1, 16, 31, 33, 64] {
            assert_eq!(
                KeyMaterial::from_slice(&vec![7u8; len]).unwrap_err(),
                CryptoError::InvalidKeyLength { len }
            );
        }
        let material = KeyMaterial::from_slice(&sample_key_bytes()).expect("32 bytes");
        assert_eq!(material.expose(), &sample_key_bytes());
    }

    #[test]
    fn from_bytes_keeps_the_bytes() {
        let material = KeyMaterial::from_bytes(sample_key_bytes());
        assert_eq!(material.expose(), &sample_key_bytes());
    }

    #[test]
    fn generate_gives_distinct_nonzero_keys() {
        let a = KeyMaterial::generate();
        let b = KeyMaterial::generate();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.expose(), &[0u8; KEY_LEN]);
    }

    #[test]
    fn check_value_matches_an_independent_hmac() {
        let material = KeyMaterial::from_bytes(sample_key_bytes());
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&sample_key_bytes()).expect("any length");
        mac.update(b"rekey.v1.kcv");
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(material.check_value(), full[..16]);
        // Pinned value (computed with Python's hmac module) so a change of
        // the construction cannot go unnoticed.
        assert_eq!(material.check_value(), "0edb94cecb4c3418");
    }

    #[test]
    fn check_value_is_16_lowercase_hex_and_key_specific() {
        let kcv = KeyMaterial::generate().check_value();
        assert_eq!(kcv.len(), 16);
        assert!(kcv
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(kcv, KeyMaterial::generate().check_value());
    }

    #[test]
    fn debug_is_redacted() {
        let material = KeyMaterial::from_bytes(sample_key_bytes());
        let rendered = format!("{material:?}");
        assert_eq!(rendered, "KeyMaterial(<redacted>)");
        assert_no_key_bytes(&format!("{material:#?}"), &sample_key_bytes());
    }
}
