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
