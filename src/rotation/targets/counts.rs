//! Tallies key versions from value prefixes, so an impact report reads only the first bytes of
//! each stored value (grouped in SQL) and decrypts nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::types::{Encoding, VersionCounts};
use crate::crypto::{peek_key_version, Kind};

/// Envelope bytes up to and including the key version: magic, format version, kind,
/// name length (5), name, version (4).
const fn header_prefix_len(key_name_len: usize) -> usize {
    9 + key_name_len
}

/// How many leading bytes (binary) or characters (base64) of a stored value hold the key
/// version of a ciphertext of a key whose name is `key_name_len` bytes long.
pub(super) const fn stored_prefix_len(encoding: Encoding, key_name_len: usize) -> usize {
    let bytes = header_prefix_len(key_name_len);
    match encoding {
        Encoding::Binary => bytes,
        // Whole 4-character groups, each carrying 3 bytes.
        Encoding::Base64 => bytes.div_ceil(3) * 4,
    }
}

/// The key version of a stored value's prefix, if it is a ciphertext (or an envelope
/// ciphertext, whose header names the version wrapping its data key) of `key_name`.
fn version_of(encoding: Encoding, key_name: &str, stored_prefix: &[u8]) -> Option<u32> {
    let decoded;
    let bytes = match encoding {
        Encoding::Binary => stored_prefix,
        Encoding::Base64 => {
            decoded = STANDARD.decode(stored_prefix).ok()?;
            decoded.as_slice()
        }
    };
    match peek_key_version(bytes) {
        Ok((
            Kind::Ciphertext | Kind::EnvelopeCiphertext | Kind::StreamCiphertext,
            name,
            version,
        )) if name == key_name => Some(version),
        _ => None,
    }
}

/// Sums `(stored prefix, number of values)` groups into counts per version. Several distinct
/// prefixes may give one version (the last base64 group can include nonce bytes).
pub(super) fn tally(
    encoding: Encoding,
    key_name: &str,
    groups: impl IntoIterator<Item = (Vec<u8>, i64)>,
) -> VersionCounts {
    let mut counts = VersionCounts::default();
    for (prefix, count) in groups {
        let count = u64::try_from(count).unwrap_or(0);
        match version_of(encoding, key_name, &prefix) {
            Some(version) => *counts.by_version.entry(version).or_default() += count,
            None => counts.unreadable += count,
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{EncryptionKey, KeyMaterial, SigningKey};

    fn prefix(encoding: Encoding, key_name: &str, value: &[u8]) -> Vec<u8> {
        let stored = match encoding {
            Encoding::Binary => value.to_vec(),
            Encoding::Base64 => STANDARD.encode(value).into_bytes(),
        };
        let len = stored_prefix_len(encoding, key_name.len()).min(stored.len());
        stored[..len].to_vec()
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(stored_prefix_len(Encoding::Binary, 6), 15);
        assert_eq!(stored_prefix_len(Encoding::Base64, 6), 20);
        assert_eq!(stored_prefix_len(Encoding::Base64, 3), 16);
        assert_eq!(stored_prefix_len(Encoding::Base64, 64), 100);
    }

    #[test]
    fn counts_versions_from_prefixes() {
        let key = EncryptionKey::new(&KeyMaterial::generate());
        let signer = SigningKey::new(&KeyMaterial::generate());
        for encoding in [Encoding::Binary, Encoding::Base64] {
            for name in ["k", "orders", "ab", "abcd"] {
                let mut groups = Vec::new();
                for version in [1, 2, 2, 3, 3, 3] {
                    let value = key.encrypt(name, version, b"secret", b"").expect("encrypt");
                    groups.push((prefix(encoding, name, &value), 1));
                }
                let other = key.encrypt("other-key", 1, b"x", b"").expect("encrypt");
                let signature = signer.sign(name, 1, b"x").expect("sign");
                for garbage in [&b""[..], b"RK", b"not a ciphertext", &other, &signature] {
                    groups.push((prefix(encoding, name, garbage), 2));
                }
                groups.push((b"@@@@".to_vec(), 1));
                let counts = tally(encoding, name, groups);
                let expected = [(1, 1), (2, 2), (3, 3)].into_iter().collect();
                assert_eq!(counts.by_version, expected, "{encoding:?} {name}");
                assert_eq!(counts.unreadable, 11, "{encoding:?} {name}");
            }
        }
    }
}
