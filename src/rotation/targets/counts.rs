//! Tallies key versions from value prefixes, so an impact report reads only the first bytes of
//! each stored value (grouped in SQL) and decrypts nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::types::{Encoding, VersionCounts};
use crate::crypto::{is_vault_form, peek_key_version, split_vault_prefix, Kind};

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
    if encoding == Encoding::Base64 && is_vault_form(stored_prefix) {
        return vault_form_version(key_name, stored_prefix);
    }
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

/// The version of a prefix in Vault Transit's text form, `vault:v<N>:` and the first base64
/// characters: N, unless the characters begin a Rekey value of another key or version (what
/// Vault sealed names no key: it counts under N).
fn vault_form_version(key_name: &str, stored_prefix: &[u8]) -> Option<u32> {
    let (version, rest) = split_vault_prefix(stored_prefix).ok()?;
    let whole_groups = &rest[..rest.len() / 4 * 4];
    let bytes = STANDARD.decode(whole_groups).ok()?;
    match peek_key_version(&bytes) {
        Ok((Kind::Ciphertext | Kind::EnvelopeCiphertext | Kind::StreamCiphertext, name, v))
            if name == key_name && v == version =>
        {
            Some(version)
        }
        Ok(_) => None,
        // Too short to hold a whole header, or not a Rekey value at all.
        Err(_) => Some(version),
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
    fn counts_values_in_vaults_text_form() {
        let key = EncryptionKey::new(&KeyMaterial::generate());
        let name = "TOKEN_ENCRYPTION";
        let len = stored_prefix_len(Encoding::Base64, name.len());
        let cut = |text: String| text.as_bytes()[..len.min(text.len())].to_vec();
        let rekey = |version| {
            let value = key.encrypt(name, version, b"secret", b"").expect("encrypt");
            cut(crate::crypto::format_vault_value(version, &value))
        };
        let other = key.encrypt("OTHER", 2, b"x", b"").expect("encrypt");
        let groups = vec![
            (rekey(1), 3),
            (rekey(2), 1),
            // What Vault sealed: random bytes after the prefix.
            (cut(crate::crypto::format_vault_value(1, &[9u8; 40])), 2),
            (cut(crate::crypto::format_vault_value(12, &[7u8; 40])), 1),
            (cut(crate::crypto::format_vault_value(2, &other)), 5),
            (b"vault:v0:AAAA".to_vec(), 1),
            (b"vault:vx:AAAA".to_vec(), 1),
        ];
        let counts = tally(Encoding::Base64, name, groups);
        let expected = [(1, 5), (2, 1), (12, 1)].into_iter().collect();
        assert_eq!(counts.by_version, expected);
        assert_eq!(counts.unreadable, 7);
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
