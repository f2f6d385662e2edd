//! The root key (a.k.a. master key) that wraps every stored key version.
//!
//! Key versions are stored in the database only in wrapped (encrypted)
//! form, so a database dump alone reveals no key material. The root key
//! itself is never used directly: HKDF derives a dedicated wrapping key and
//! a separate check value from it, and only those two are kept in memory.

use core::fmt;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, DecodeSliceError, Engine};
use zeroize::Zeroizing;

use super::error::CryptoError;
use super::format::{NONCE_LEN, TAG_LEN};
use super::kdf::hkdf_sha256_32;
use super::material::{KeyMaterial, KEY_LEN};
use super::rng;

/// HKDF info for the key-wrapping AES-256-GCM key.
const WRAPPING_INFO: &[u8] = b"key-wrapping";
/// HKDF info for the root check value.
const CHECK_VALUE_INFO: &[u8] = b"root-check-value";
/// Bytes of the derived check value shown (as 32 hex characters).
const CHECK_VALUE_LEN: usize = 16;
/// Domain-separation prefix of the wrapping associated data.
const WRAP_AAD_PREFIX: &[u8] = b"rekey.v1.key-material";
/// Wrapped key length: nonce || encrypted material || tag. Every root-key provider that wraps
/// with AES-256-GCM (this one, and a PKCS#11 token's) writes this layout.
pub const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// Standard base64 alphabet, accepting input with or without `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The root key, reduced to what it is used for: a derived AES-256-GCM
/// wrapping cipher and a public check value. The root material itself is
/// dropped (and wiped) as soon as those are derived.
pub struct RootKey {
    wrapping: Aes256Gcm,
    check_value: String,
}

impl RootKey {
    /// Derives the wrapping key and check value from root `material`.
    #[must_use]
    pub fn new(material: KeyMaterial) -> RootKey {
        let wrapping_key = hkdf_sha256_32(material.expose(), WRAPPING_INFO);
        let check = hkdf_sha256_32(material.expose(), CHECK_VALUE_INFO);
        let check_value = hex::encode(check.get(..CHECK_VALUE_LEN).unwrap_or_default());
        let key: &Array<u8, _> = (&*wrapping_key).into();
        RootKey {
            wrapping: Aes256Gcm::new(key),
            check_value,
        }
    }

    /// Accepts standard base64 (with or without padding) of exactly 32
    /// bytes; surrounding whitespace trimmed.
    ///
    /// # Errors
    /// [`CryptoError::InvalidRootKey`] saying what was wrong (empty, not
    /// base64 and where, or the decoded length). The input is never echoed.
    pub fn from_base64(text: &str) -> Result<RootKey, CryptoError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(CryptoError::InvalidRootKey(
                "it is empty; expected the standard base64 encoding of 32 random bytes".into(),
            ));
        }
        // Decode into a buffer we own and wipe, even on error paths.
        let mut decoded = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(trimmed.len())]);
        let len = BASE64
            .decode_slice(trimmed, decoded.as_mut_slice())
            .map_err(|err| CryptoError::InvalidRootKey(describe_base64_error(&err)))?;
        let bytes = decoded.get(..len).unwrap_or_default();
        if len != KEY_LEN {
            return Err(CryptoError::InvalidRootKey(format!(
                "it decoded to {len} bytes, expected {KEY_LEN}"
            )));
        }
        Ok(RootKey::new(KeyMaterial::from_slice(bytes)?))
    }

    /// Root check value: HKDF-SHA256(salt=b"rekey.v1", ikm=root,
    /// info=b"root-check-value") -> 32 bytes, first 16 bytes as lowercase
    /// hex (32 chars).
    ///
    /// Stored next to the wrapped keys so a server started with the wrong
    /// root key can refuse to run instead of failing every unwrap.
    #[must_use]
    pub fn check_value(&self) -> &str {
        &self.check_value
    }

    /// Wraps one key version's material: `nonce(12) || ciphertext(32) ||
    /// tag(16)`, 60 bytes, under the derived wrapping key.
    ///
    /// The associated data binds the result to `key_name` and `version`, so
    /// a wrapped row copied to another key name or version fails to unwrap.
    /// Names are expected to be valid key names (at most 64 bytes).
    ///
    /// # Panics
    /// Only if the OS random number generator fails (the nonce is random).
    #[must_use]
    pub fn wrap(&self, key_name: &str, version: u32, material: &KeyMaterial) -> Vec<u8> {
        let aad = wrap_aad(key_name, version);
        let mut nonce = [0u8; NONCE_LEN];
        rng::fill(&mut nonce);
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(material.expose());
        // Encrypt the material in place; cannot panic, the nonce is written.
        let (_, body) = out.split_at_mut(NONCE_LEN);
        let tag = self
            .wrapping
            .encrypt_inout_detached((&nonce).into(), &aad, body.into());
        match tag {
            Ok(tag) => out.extend_from_slice(&tag),
            // AES-GCM only fails for inputs of many GiB; these are 32 bytes.
            Err(_) => unreachable!("AES-GCM accepts a 32-byte message"),
        }
        out
    }

    /// Reverses [`RootKey::wrap`] for the same key name and version.
    ///
    /// # Errors
    /// [`CryptoError::WrappedKeyInvalid`] if `wrapped` is not 60 bytes or
    /// does not authenticate (wrong root key, altered row, or a row that
    /// belongs to another key name or version).
    pub fn unwrap(
        &self,
        key_name: &str,
        version: u32,
        wrapped: &[u8],
    ) -> Result<KeyMaterial, CryptoError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(CryptoError::WrappedKeyInvalid);
        }
        let (nonce, rest) = wrapped
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::WrappedKeyInvalid)?;
        let (ciphertext, tag) = rest
            .split_at_checked(KEY_LEN)
            .ok_or(CryptoError::WrappedKeyInvalid)?;
        let nonce = <&Array<u8, _>>::try_from(nonce).map_err(|_| CryptoError::WrappedKeyInvalid)?;
        let tag = <&Array<u8, _>>::try_from(tag).map_err(|_| CryptoError::WrappedKeyInvalid)?;
        let aad = wrap_aad(key_name, version);
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        let buf = aes_gcm::aead::inout::InOutBuf::new(ciphertext, material.as_mut_slice())
            .map_err(|_| CryptoError::WrappedKeyInvalid)?;
        self.wrapping
            .decrypt_inout_detached(nonce, &aad, buf, tag)
            .map_err(|_| CryptoError::WrappedKeyInvalid)?;
        KeyMaterial::from_slice(material.as_slice())
    }
}

/// The associated data that binds a wrapped key version to its key name and
/// version: `b"rekey.v1.key-material" || u8(name.len()) || name || u32 BE
/// version`. Shared by every root-key provider that wraps with AES-GCM, so a
/// row copied to another name or version fails to unwrap whatever holds the
/// root key.
///
/// The name is the only variable-length field, so the encoding is
/// unambiguous. Names over 255 bytes (never valid key names) are recorded
/// with length byte 255 rather than a silently truncated length.
#[must_use]
pub fn wrap_aad(key_name: &str, version: u32) -> Vec<u8> {
    let name = key_name.as_bytes();
    let name_len = u8::try_from(name.len()).unwrap_or(u8::MAX);
    let mut aad = Vec::with_capacity(WRAP_AAD_PREFIX.len() + 1 + name.len() + 4);
    aad.extend_from_slice(WRAP_AAD_PREFIX);
    aad.push(name_len);
    aad.extend_from_slice(name);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Describes a base64 failure by position only: the offending byte itself
/// could be part of the secret and is never included.
fn describe_base64_error(err: &DecodeSliceError) -> String {
    let detail = match err {
        DecodeSliceError::DecodeError(DecodeError::InvalidByte(offset, _)) => {
            format!("invalid character at position {offset}")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidLastSymbol(offset, _)) => {
            format!("invalid final character at position {offset}")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidLength(len)) => {
            format!("{len} base64 characters is not a valid length")
        }
        DecodeSliceError::DecodeError(DecodeError::InvalidPadding) => "invalid padding".into(),
        DecodeSliceError::OutputSliceTooSmall => "it is malformed".into(),
    };
    format!("it is not valid standard base64 ({detail}); expected the base64 of 32 random bytes")
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("check_value", &self.check_value)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_no_key_bytes, sample_key_bytes};
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use hkdf::Hkdf;
    use sha2::Sha256;

    fn sample_root() -> RootKey {
        RootKey::new(KeyMaterial::from_bytes(sample_key_bytes()))
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let root = sample_root();
        let material = KeyMaterial::generate();
        let wrapped = root.wrap("payments", 3, &material);
        assert_eq!(wrapped.len(), 60);
        let unwrapped = root.unwrap("payments", 3, &wrapped).expect("unwraps");
        assert_eq!(unwrapped.expose(), material.expose());
    }

    #[test]
    fn wrapping_is_randomised_and_hides_the_material() {
        let root = sample_root();
        let material = KeyMaterial::from_bytes(sample_key_bytes());
        let a = root.wrap("k", 1, &material);
        let b = root.wrap("k", 1, &material);
        assert_ne!(a, b, "fresh nonce each time");
        assert!(!a
            .windows(8)
            .any(|w| sample_key_bytes().windows(8).any(|k| k == w)));
    }

    #[test]
    fn unwrap_fails_for_another_name_version_or_root() {
        let root = sample_root();
        let material = KeyMaterial::generate();
        let wrapped = root.wrap("payments", 3, &material);
        let other_root = RootKey::new(KeyMaterial::generate());
        assert_eq!(
            root.unwrap("payment", 3, &wrapped).unwrap_err(),
            CryptoError::WrappedKeyInvalid
        );
        assert_eq!(
            root.unwrap("payments", 4, &wrapped).unwrap_err(),
            CryptoError::WrappedKeyInvalid
        );
        assert_eq!(
            other_root.unwrap("payments", 3, &wrapped).unwrap_err(),
            CryptoError::WrappedKeyInvalid
        );
    }

    #[test]
    fn unwrap_rejects_altered_or_mis_sized_rows() {
        let root = sample_root();
        let wrapped = root.wrap("k", 1, &KeyMaterial::generate());
        for i in 0..wrapped.len() * 8 {
            let mut altered = wrapped.clone();
            altered[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                root.unwrap("k", 1, &altered).unwrap_err(),
                CryptoError::WrappedKeyInvalid
            );
        }
        for len in 0..wrapped.len() {
            assert!(root.unwrap("k", 1, &wrapped[..len]).is_err());
        }
        let mut long = wrapped.clone();
        long.push(0);
        assert!(root.unwrap("k", 1, &long).is_err());
    }

    #[test]
    fn wrap_aad_layout() {
        let aad = wrap_aad("ab", 0x0102_0304);
        assert_eq!(aad, b"rekey.v1.key-material\x02ab\x01\x02\x03\x04");
    }

    #[test]
    fn wrapping_key_matches_an_independent_hkdf() {
        // Decrypt a wrapped row with a cipher built from an independently
        // derived key: proves the derivation and the wrapped layout.
        use aes_gcm::aead::{Aead, Payload};
        let hk = Hkdf::<Sha256>::new(Some(b"rekey.v1"), &sample_key_bytes());
        let mut key = [0u8; 32];
        hk.expand(b"key-wrapping", &mut key).expect("32 bytes");
        assert_eq!(
            hex::encode(key),
            "f11bcef59cc150d83a446c59d772a4c42a8063e3ffa281d4e91b0186361d6744"
        );
        let cipher = Aes256Gcm::new((&key).into());
        let material = KeyMaterial::generate();
        let wrapped = sample_root().wrap("n", 9, &material);
        let nonce = <&Array<u8, _>>::try_from(&wrapped[..12]).expect("12 bytes");
        let plain = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &wrapped[12..],
                    aad: b"rekey.v1.key-material\x01n\x00\x00\x00\x09",
                },
            )
            .expect("decrypts");
        assert_eq!(plain.as_slice(), material.expose());
    }

    #[test]
    fn check_value_matches_an_independent_hkdf() {
        let hk = Hkdf::<Sha256>::new(Some(b"rekey.v1"), &sample_key_bytes());
        let mut okm = [0u8; 32];
        hk.expand(b"root-check-value", &mut okm).expect("32 bytes");
        let root = sample_root();
        assert_eq!(root.check_value(), hex::encode(&okm[..16]));
        // Pinned (computed with Python's `cryptography` HKDF).
        assert_eq!(root.check_value(), "a13b58ffd3194887b72385cd43600c6b");
        assert_eq!(
            RootKey::new(KeyMaterial::generate()).check_value().len(),
            32
        );
    }

    #[test]
    fn from_base64_accepts_padded_unpadded_and_whitespace() {
        let key = sample_key_bytes();
        let padded = STANDARD.encode(key);
        let unpadded = STANDARD_NO_PAD.encode(key);
        assert!(padded.ends_with('='));
        for text in [
            padded.clone(),
            unpadded,
            format!("  {padded}\n"),
            format!("\t{padded}\r\n"),
        ] {
            let root = RootKey::from_base64(&text).expect("valid");
            assert_eq!(root.check_value(), sample_root().check_value());
        }
    }

    fn root_error(text: &str) -> String {
        match RootKey::from_base64(text) {
            Err(CryptoError::InvalidRootKey(reason)) => reason,
            other => panic!("expected InvalidRootKey, got {other:?}"),
        }
    }

    #[test]
    fn from_base64_errors_say_what_is_wrong_without_echoing_input() {
        assert!(root_error("").contains("empty"));
        assert!(root_error("   \n").contains("empty"));

        let short = STANDARD.encode([9u8; 16]);
        let reason = root_error(&short);
        assert!(
            reason.contains("decoded to 16 bytes, expected 32"),
            "{reason}"
        );
        assert!(!reason.contains(&short));

        let long = STANDARD.encode([9u8; 33]);
        assert!(root_error(&long).contains("decoded to 33 bytes, expected 32"));

        // URL-safe alphabet, a stray symbol, and hex are all "not base64".
        let mut url_safe = STANDARD.encode([0xfbu8; 32]);
        url_safe = url_safe.replace('+', "-").replace('/', "_");
        for bad in [
            url_safe.as_str(),
            "this is not base64 at all!!",
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U*",
            "A",
        ] {
            let reason = root_error(bad);
            assert!(reason.contains("not valid standard base64"), "{reason}");
            assert!(!reason.contains(bad), "{reason}");
            let full = CryptoError::InvalidRootKey(reason).to_string();
            assert!(!full.contains(bad));
        }
    }

    #[test]
    fn debug_shows_only_the_check_value() {
        let root = sample_root();
        let rendered = format!("{root:?}");
        assert!(rendered.contains(root.check_value()));
        assert!(rendered.starts_with("RootKey"));
        assert_no_key_bytes(&rendered, &sample_key_bytes());
        assert_no_key_bytes(&format!("{root:#?}"), &sample_key_bytes());
    }
}
