//! Baseline C of the envelope scenario: bare AES-256-GCM of the same payload on one thread,
//! with what any correct use of GCM must do per message and nothing more: a fresh random
//! 96-bit nonce from the OS (through `rekey_envelope::rng::fill`, as every Rekey nonce) and
//! one output buffer (nonce, ciphertext, tag). No key derivation, no header: what the
//! envelope format adds over this is what the ratio measures.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;

use super::Tally;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// One AES-256-GCM key, expanded once (as the envelope's cached data key is).
pub struct BareGcm {
    cipher: Aes256Gcm,
}

impl BareGcm {
    /// A random key from the OS.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rekey_envelope::rng::fill(&mut key);
        let cipher = Aes256Gcm::new(&key.into());
        // The benchmark key protects nothing, but wipe it like any other.
        zeroize_key(&mut key);
        Self { cipher }
    }

    /// `nonce || ciphertext || tag` of `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rekey_envelope::rng::fill(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let body = InOutBuf::from(&mut out[NONCE_LEN..]);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce.into(), b"", body)
            .map_err(|_| anyhow::anyhow!("AES-256-GCM refused {} bytes", plaintext.len()))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Messages sealed over about `window` (blocking; one thread).
    pub fn seal_for(&self, plaintext: &[u8], window: Duration) -> anyhow::Result<Tally> {
        let mut calls: u64 = 0;
        let start = Instant::now();
        loop {
            // Check the clock every CHUNK calls, never per call.
            for _ in 0..super::CHUNK {
                black_box(self.seal(black_box(plaintext))?);
            }
            calls += super::CHUNK;
            let elapsed = start.elapsed();
            if elapsed >= window {
                return Ok(Tally { calls, elapsed });
            }
        }
    }
}

fn zeroize_key(key: &mut [u8; 32]) {
    use zeroize::Zeroize;
    key.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The baseline does real GCM work: what it seals opens with the same key, and two
    /// seals of one message differ (fresh nonces).
    #[test]
    fn seals_what_opens_with_a_fresh_nonce_each_time() {
        let bare = BareGcm::random();
        let a = bare.seal(b"one KiB or so").unwrap();
        let b = bare.seal(b"one KiB or so").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert_eq!(a.len(), NONCE_LEN + 13 + TAG_LEN);
        let mut sealed = a.clone();
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN);
        let (body, tag) = rest.split_at_mut(13);
        let nonce: [u8; NONCE_LEN] = (&*nonce).try_into().unwrap();
        let tag: [u8; TAG_LEN] = (&*tag).try_into().unwrap();
        bare.cipher
            .decrypt_inout_detached(&nonce.into(), b"", InOutBuf::from(&mut *body), &tag.into())
            .unwrap();
        assert_eq!(body, b"one KiB or so");
    }
}
