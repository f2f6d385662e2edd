//! HMAC-SHA256 signatures in kind-0x02 envelopes.
//!
//! The MAC covers the envelope header as well as the message, so the key
//! name, version and kind in a signature cannot be altered to make it
//! verify under a different key version.

use core::fmt;

use hmac::Mac;
use subtle::ConstantTimeEq;

use super::error::CryptoError;
use super::format::{header_len, validate_key_name, write_prefix, Envelope, Kind, MAC_LEN};
use super::kdf::{hmac_sha256, HmacSha256};
use super::material::KeyMaterial;

/// One key version's HMAC-SHA256 key, kept as the already-keyed HMAC state
/// (inner and outer pads absorbed) and cloned per operation, so the key
/// schedule work is done once per key version rather than per message.
pub struct SigningKey {
    mac: HmacSha256,
}

impl SigningKey {
    /// Keys HMAC-SHA256 with `material`.
    #[must_use]
    pub fn new(material: &KeyMaterial) -> SigningKey {
        SigningKey {
            mac: hmac_sha256(material.expose()),
        }
    }

    /// Builds a kind-0x02 envelope: header || HMAC-SHA256(header || message).
    ///
    /// # Errors
    /// [`CryptoError::Format`] for an invalid key name or version 0.
    pub fn sign(
        &self,
        key_name: &str,
        key_version: u32,
        message: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        validate_key_name(key_name)?;
        let mut out = Vec::with_capacity(header_len(Kind::Signature, key_name.len()) + MAC_LEN);
        write_prefix(&mut out, Kind::Signature, key_name, key_version)?;
        let tag = self.tag(&out, message);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Checks a signature envelope against `message` in constant time.
    ///
    /// Returns `Ok(false)` for a wrong tag (a normal outcome, not an error).
    ///
    /// # Errors
    /// [`CryptoError::WrongKind`] if `envelope` is a ciphertext.
    pub fn verify(&self, envelope: &Envelope<'_>, message: &[u8]) -> Result<bool, CryptoError> {
        if envelope.kind != Kind::Signature {
            return Err(CryptoError::WrongKind {
                expected: Kind::Signature,
                found: envelope.kind,
            });
        }
        let expected = self.tag(envelope.header(), message);
        Ok(expected.as_slice().ct_eq(envelope.body()).into())
    }

    /// HMAC-SHA256(key, header || message).
    fn tag(&self, header: &[u8], message: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_no_key_bytes, sample_key_bytes};
    use crate::FormatError;
    use hmac::{Hmac, KeyInit};
    use sha2::Sha256;

    fn sample_key() -> SigningKey {
        SigningKey::new(&KeyMaterial::from_bytes(sample_key_bytes()))
    }

    #[test]
    fn sign_verify_round_trip() {
        let key = sample_key();
        for message in [&b""[..], b"m", &[7u8; 10_000][..]] {
            let sig = key.sign("webhooks", 4, message).expect("signs");
            assert_eq!(sig.len(), 9 + 8 + 32);
            let env = Envelope::parse(&sig).expect("parses");
            assert_eq!(
                (env.kind, env.key_name, env.key_version),
                (Kind::Signature, "webhooks", 4)
            );
            assert_eq!(key.verify(&env, message), Ok(true));
        }
    }

    #[test]
    fn signing_is_deterministic_and_matches_hmac_used_directly() {
        let key = sample_key();
        let sig = key.sign("s", 1, b"msg").expect("ok");
        assert_eq!(sig, key.sign("s", 1, b"msg").expect("ok"));
        let header = b"RK\x01\x02\x01s\x00\x00\x00\x01";
        assert_eq!(&sig[..header.len()], header);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&sample_key_bytes()).expect("ok");
        mac.update(header);
        mac.update(b"msg");
        assert_eq!(&sig[header.len()..], mac.finalize().into_bytes().as_slice());
    }

    #[test]
    fn wrong_message_or_key_is_false() {
        let key = sample_key();
        let sig = key.sign("s", 1, b"msg").expect("ok");
        let env = Envelope::parse(&sig).expect("parses");
        assert_eq!(key.verify(&env, b"msg2"), Ok(false));
        assert_eq!(key.verify(&env, b""), Ok(false));
        let other = SigningKey::new(&KeyMaterial::generate());
        assert_eq!(other.verify(&env, b"msg"), Ok(false));
    }

    #[test]
    fn every_bit_flip_and_truncation_fails() {
        let key = sample_key();
        let sig = key.sign("flip", 2, b"payload").expect("ok");
        let accepted = |bytes: &[u8]| {
            Envelope::parse(bytes)
                .map_err(CryptoError::from)
                .and_then(|env| key.verify(&env, b"payload"))
                == Ok(true)
        };
        for bit in 0..sig.len() * 8 {
            let mut altered = sig.clone();
            altered[bit / 8] ^= 1 << (bit % 8);
            assert!(!accepted(&altered), "bit {bit}");
        }
        for len in 0..sig.len() {
            assert!(Envelope::parse(&sig[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn rejects_ciphertexts() {
        let ct = crate::EncryptionKey::new(&KeyMaterial::generate())
            .encrypt("k", 1, b"m", b"")
            .expect("ok");
        let env = Envelope::parse(&ct).expect("parses");
        assert_eq!(
            sample_key().verify(&env, b"m"),
            Err(CryptoError::WrongKind {
                expected: Kind::Signature,
                found: Kind::Ciphertext
            })
        );
    }

    #[test]
    fn validates_name_and_version() {
        let key = sample_key();
        assert_eq!(
            key.sign("k", 0, b""),
            Err(CryptoError::Format(FormatError::ZeroKeyVersion))
        );
        assert_eq!(
            key.sign("k!", 1, b""),
            Err(CryptoError::Format(FormatError::InvalidKeyName))
        );
    }

    #[test]
    fn debug_is_redacted() {
        let rendered = format!("{:?} {:#?}", sample_key(), sample_key());
        assert!(rendered.starts_with("SigningKey(<redacted>)"));
        assert_no_key_bytes(&rendered, &sample_key_bytes());
    }
}
