//! Thin, infallible wrappers over HMAC-SHA256 and HKDF-SHA256.
//!
//! The RustCrypto APIs return `Result`s that cannot fail for the fixed sizes
//! used here (HMAC takes keys of any length; 32 bytes is far below HKDF's
//! 255*32-byte output limit). Keeping those two provably-unreachable error
//! paths in one small file keeps the rest of the module free of them.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use zeroize::Zeroizing;

/// HMAC-SHA256 keyed with `key`.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HKDF salt for every Rekey v1 derivation. A fixed, versioned salt makes
/// the derived keys specific to this scheme.
pub(crate) const HKDF_SALT: &[u8] = b"rekey.v1";

/// A keyed HMAC-SHA256 state.
pub(crate) fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length (RFC 2104 hashes or pads them).
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

/// HKDF-SHA256(salt = `rekey.v1`, ikm, info) producing 32 bytes.
pub(crate) fn hkdf_sha256_32(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), ikm);
    if hk.expand(info, okm.as_mut_slice()).is_err() {
        // HKDF-SHA256 can produce up to 255 * 32 bytes; 32 is always valid.
        unreachable!("32 bytes is within HKDF-SHA256's output limit");
    }
    okm
}

/// HKDF-SHA256-Expand to 32 bytes (RFC 5869 section 2.3) from a PRK that
/// is already keyed into `prk_mac` (HMAC-SHA256 keyed with the PRK), with
/// `info` given as parts that are concatenated. L = 32 is one block:
/// `T(1) = HMAC(PRK, info || 0x01)`. Keying HMAC once per PRK and cloning
/// the state per call saves two SHA-256 compressions per derivation.
pub(crate) fn hkdf_expand_32(prk_mac: &HmacSha256, info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    use hmac::Mac;
    let mut mac = prk_mac.clone();
    for part in info {
        mac.update(part);
    }
    mac.update(&[0x01]);
    let mut okm = Zeroizing::new([0u8; 32]);
    okm.copy_from_slice(&mac.finalize().into_bytes());
    okm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_matches_the_hkdf_crate() {
        let prk = [7u8; 32];
        let mut expected = [0u8; 32];
        Hkdf::<Sha256>::from_prk(&prk)
            .expect("32-byte PRK")
            .expand(b"label|salt|name", &mut expected)
            .expect("32 bytes");
        let got = hkdf_expand_32(&hmac_sha256(&prk), &[b"label", b"|salt|", b"name"]);
        assert_eq!(*got, expected);
    }
}
