//! HKDF-SHA256-Expand to 32 bytes for an info short enough for one SHA-256 block, at the cost
//! of exactly two SHA-256 compressions: the envelope's per-message key derivation.
//!
//! With L = 32, HKDF-Expand is one HMAC: `T(1) = HMAC-SHA256(PRK, info || 0x01)` (RFC 5869
//! section 2.3), and HMAC is `H((K ^ opad) || H((K ^ ipad) || m))` (RFC 2104). The two key
//! blocks depend only on the PRK, so their compressed states are computed once per data key;
//! per message, `info || 0x01` plus SHA-256's padding fills one block (info at most 54 bytes)
//! and the inner hash plus padding fills another. This is what the `hmac` crate computes, minus
//! its general-purpose buffering, which cost more than a compression here (SHA-NI makes one
//! compression cheap). `kdf_tests` checks it against the `hkdf` crate.
//!
//! Its buffers are [`Wiped`] rather than `Zeroizing`: zeroize wipes an array element by
//! element with a volatile write each, a slice with one bulk write, and per message the
//! element-wise wipes of these few blocks cost about as much as a compression.

use core::ops::{Deref, DerefMut};

use sha2::block_api::compress256;
use zeroize::{DefaultIsZeroes, Zeroize};

/// An array wiped on drop with one bulk write (zeroize's slice path, not its per-element
/// array path).
pub(crate) struct Wiped<T: DefaultIsZeroes, const N: usize>([T; N]);

impl<T: DefaultIsZeroes, const N: usize> Wiped<T, N> {
    pub(crate) fn new(value: [T; N]) -> Self {
        Wiped(value)
    }
}

impl<T: DefaultIsZeroes, const N: usize> Deref for Wiped<T, N> {
    type Target = [T; N];
    fn deref(&self) -> &[T; N] {
        &self.0
    }
}

impl<T: DefaultIsZeroes, const N: usize> DerefMut for Wiped<T, N> {
    fn deref_mut(&mut self) -> &mut [T; N] {
        &mut self.0
    }
}

impl<T: DefaultIsZeroes, const N: usize> Drop for Wiped<T, N> {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

/// SHA-256's initial hash value (FIPS 180-4, section 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const BLOCK: usize = 64;

/// The longest info one block holds: the counter byte, the 0x80 pad byte and the 8-byte
/// length must fit beside it.
pub(crate) const MAX_INFO: usize = BLOCK - 1 - 1 - 8;

/// HMAC-SHA256 keyed with a 32-byte PRK, its two key blocks already compressed. Wiped on drop.
pub(crate) struct ShortHkdf {
    inner: Wiped<u32, 8>,
    outer: Wiped<u32, 8>,
}

impl ShortHkdf {
    pub(crate) fn new(prk: &[u8; 32]) -> Self {
        let mut ipad = Wiped::new([0x36u8; BLOCK]);
        let mut opad = Wiped::new([0x5cu8; BLOCK]);
        for (i, k) in prk.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let mut inner = Wiped::new(SHA256_IV);
        let mut outer = Wiped::new(SHA256_IV);
        compress256(&mut inner, core::slice::from_ref(&*ipad));
        compress256(&mut outer, core::slice::from_ref(&*opad));
        ShortHkdf { inner, outer }
    }

    /// `HKDF-SHA256-Expand(PRK, info, 32)` where `info` is the concatenation of `parts`, at
    /// most [`MAX_INFO`] bytes in all (checked at compile time by the one caller's constants;
    /// a longer info is a bug and panics rather than derive a wrong key).
    pub(crate) fn expand_32(&self, parts: &[&[u8]]) -> Wiped<u8, 32> {
        let mut block = Wiped::new([0u8; BLOCK]);
        let mut len = 0;
        for part in parts {
            block[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        assert!(
            len <= MAX_INFO,
            "HKDF info of {len} bytes does not fit one block"
        );
        block[len] = 0x01; // HKDF's counter: T(1)
        block[len + 1] = 0x80; // SHA-256 padding
                               // The inner hash covers the ipad key block and `info || 0x01`.
        let bits = ((BLOCK + len + 1) as u64) * 8;
        block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        let mut state = Wiped::new(*self.inner);
        compress256(&mut state, core::slice::from_ref(&*block));

        block.as_mut_slice().zeroize();
        for (i, word) in state.iter().enumerate() {
            block[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
        }
        block[32] = 0x80;
        let bits = ((BLOCK + 32) as u64) * 8;
        block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        *state = *self.outer;
        compress256(&mut state, core::slice::from_ref(&*block));

        let mut okm = Wiped::new([0u8; 32]);
        for (i, word) in state.iter().enumerate() {
            okm[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
        }
        okm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hkdf::Hkdf;
    use sha2::Sha256;

    fn reference(prk: &[u8; 32], info: &[u8]) -> [u8; 32] {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::from_prk(prk)
            .expect("32-byte PRK")
            .expand(info, &mut okm)
            .expect("32 bytes");
        okm
    }

    /// Every info length that fits, against the `hkdf` crate, with several keys.
    #[test]
    fn matches_the_hkdf_crate_for_every_length_that_fits() {
        for seed in [0u8, 7, 0xff] {
            let prk: [u8; 32] =
                core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8));
            let kdf = ShortHkdf::new(&prk);
            for len in 0..=MAX_INFO {
                let info: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
                let (a, b) = info.split_at(len / 3);
                assert_eq!(*kdf.expand_32(&[a, b]), reference(&prk, &info), "len {len}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "does not fit one block")]
    fn a_longer_info_is_refused() {
        let _ = ShortHkdf::new(&[1; 32]).expand_32(&[&[0u8; MAX_INFO + 1]]);
    }
}
