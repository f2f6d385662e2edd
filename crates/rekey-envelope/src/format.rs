//! The version-1 envelope format shared by ciphertexts and signatures.
//!
//! Parsing lives apart from the cryptography on purpose: it needs no key, so
//! background migration scans can read which key version protects a stored
//! value (and skip the ones already on the current version) without loading
//! any key material. See `docs/ciphertext-format.md` for the byte layout.
//!
//! Layout of the common prefix:
//!
//! ```text
//! 0      2  magic "RK"
//! 2      1  format version (1)
//! 3      1  kind (1 = ciphertext, 2 = signature, 3 = envelope ciphertext,
//!           4 = stream ciphertext)
//! 4      1  N = key-name length, 1..=64
//! 5      N  key name, [A-Za-z0-9_.-]
//! 5+N    4  key version, u32 big-endian, >= 1
//! ```

use core::fmt;

use super::format_error::FormatError;

/// The only envelope format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// First two bytes of every envelope (ASCII `RK`).
pub const MAGIC: [u8; 2] = *b"RK";
/// Longest key name the format can carry (it must fit the one length byte
/// and stay short enough to repeat in every ciphertext).
pub const MAX_KEY_NAME_LEN: usize = 64;
/// AES-GCM nonce length (96 bits, the size GCM is designed for).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length (full 128 bits; truncated tags are never used).
pub const TAG_LEN: usize = 16;
/// HMAC-SHA256 tag length (full 256 bits, not truncated).
pub const MAC_LEN: usize = 32;

/// Length of magic + format version + kind + name-length byte.
pub(crate) const FIXED_PREFIX_LEN: usize = 5;
/// Length of the big-endian key version field.
pub(crate) const VERSION_LEN: usize = 4;
/// Length of an envelope ciphertext's per-message salt (128 random bits).
pub(crate) const ENVELOPE_SALT_LEN: usize = 16;
/// Length of a data key (AES-256 key / HKDF pseudorandom key).
const KEY_LEN: usize = 32;

/// Kind byte value of an AES-256-GCM ciphertext.
const KIND_CIPHERTEXT: u8 = 0x01;
/// Kind byte value of an HMAC-SHA256 signature.
const KIND_SIGNATURE: u8 = 0x02;
/// Kind byte value of an envelope ciphertext (made locally by a client
/// under a data key that the server wrapped; see `envelope_value.rs`).
const KIND_ENVELOPE: u8 = 0x03;
/// Kind byte value of a stream ciphertext (segments under a data key; see
/// `stream.rs`).
const KIND_STREAM: u8 = 0x04;
/// Length of a stream header's segment-size field (u32 big-endian).
pub(crate) const SEGMENT_SIZE_LEN: usize = 4;

/// What an envelope contains; stored in byte 3 so a value can never be
/// mistaken for the other kind (the kind is also covered by the AEAD/MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// AES-256-GCM ciphertext (kind byte 0x01).
    Ciphertext,
    /// HMAC-SHA256 signature (kind byte 0x02).
    Signature,
    /// Envelope ciphertext (kind byte 0x03): a wrapped data key, then a
    /// payload sealed locally under a key derived from that data key.
    EnvelopeCiphertext,
    /// Stream ciphertext (kind byte 0x04): the envelope's header and wrapped
    /// data key, then a payload of any length in authenticated segments.
    StreamCiphertext,
}

impl Kind {
    /// The byte that encodes this kind on the wire.
    pub(crate) const fn to_byte(self) -> u8 {
        match self {
            Kind::Ciphertext => KIND_CIPHERTEXT,
            Kind::Signature => KIND_SIGNATURE,
            Kind::EnvelopeCiphertext => KIND_ENVELOPE,
            Kind::StreamCiphertext => KIND_STREAM,
        }
    }

    /// Decodes a kind byte.
    pub(crate) const fn from_byte(byte: u8) -> Result<Kind, FormatError> {
        match byte {
            KIND_CIPHERTEXT => Ok(Kind::Ciphertext),
            KIND_SIGNATURE => Ok(Kind::Signature),
            KIND_ENVELOPE => Ok(Kind::EnvelopeCiphertext),
            KIND_STREAM => Ok(Kind::StreamCiphertext),
            other => Err(FormatError::UnknownKind(other)),
        }
    }

    /// Bytes of a `kind` envelope after the key version that
    /// [`Envelope::header`] includes: the nonce for a ciphertext, nothing
    /// for a signature or an envelope ciphertext (whose own layout is
    /// parsed by `EnvelopeCiphertext::parse`).
    const fn header_extra_len(self) -> usize {
        match self {
            Kind::Ciphertext => NONCE_LEN,
            Kind::Signature | Kind::EnvelopeCiphertext | Kind::StreamCiphertext => 0,
        }
    }

    /// Smallest body for a key name of `name_len` bytes: the tag alone
    /// (empty plaintext), the MAC, or for an envelope ciphertext the
    /// wrapped data key, salt, nonce and tag (empty payload).
    const fn min_body_len(self, name_len: usize) -> usize {
        match self {
            Kind::Ciphertext => TAG_LEN,
            Kind::Signature => MAC_LEN,
            Kind::EnvelopeCiphertext => {
                header_len(Kind::Ciphertext, name_len) + KEY_LEN + TAG_LEN // wrapped key
                    + ENVELOPE_SALT_LEN
                    + NONCE_LEN
                    + TAG_LEN
            }
            Kind::StreamCiphertext => {
                header_len(Kind::Ciphertext, name_len) + KEY_LEN + TAG_LEN // wrapped key
                    + ENVELOPE_SALT_LEN
                    + SEGMENT_SIZE_LEN
                    + TAG_LEN // one empty last segment
            }
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ciphertext => "an AES-256-GCM ciphertext",
            Kind::Signature => "an HMAC-SHA256 signature",
            Kind::EnvelopeCiphertext => "an envelope ciphertext",
            Kind::StreamCiphertext => "a stream ciphertext",
        })
    }
}

/// Header length (everything authenticated as "header") for a kind and
/// key-name length: `9+N` for signatures, `21+N` for ciphertexts.
pub(crate) const fn header_len(kind: Kind, name_len: usize) -> usize {
    FIXED_PREFIX_LEN + name_len + VERSION_LEN + kind.header_extra_len()
}

/// Minimum total length of a valid envelope of `kind` with a key name of
/// `name_len` bytes.
pub(crate) const fn min_total_len(kind: Kind, name_len: usize) -> usize {
    header_len(kind, name_len) + kind.min_body_len(name_len)
}

/// The smallest valid envelope of any kind (a ciphertext of empty plaintext
/// under a one-byte key name); reported when not even the kind is known.
const SMALLEST_ENVELOPE: usize = min_total_len(Kind::Ciphertext, 1);

/// Whether a byte may appear in a key name. The set is deliberately small
/// so names are safe in URLs, file names, logs and SQL without escaping.
const fn is_key_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Validates a key name per the format rules (1..=64 bytes of [A-Za-z0-9_.-]).
///
/// # Errors
/// [`FormatError::InvalidKeyName`] otherwise; the name itself is not echoed.
pub fn validate_key_name(name: &str) -> Result<(), FormatError> {
    validate_key_name_bytes(name.as_bytes())
}

fn validate_key_name_bytes(name: &[u8]) -> Result<(), FormatError> {
    if name.is_empty()
        || name.len() > MAX_KEY_NAME_LEN
        || !name.iter().all(|&b| is_key_name_byte(b))
    {
        return Err(FormatError::InvalidKeyName);
    }
    Ok(())
}

/// Rejects version 0, which the key store never assigns.
pub(crate) const fn validate_key_version(version: u32) -> Result<(), FormatError> {
    if version == 0 {
        return Err(FormatError::ZeroKeyVersion);
    }
    Ok(())
}

/// Appends the common prefix (magic through key version) to `out`, after
/// validating the name and version. Used by encrypt and sign so the writer
/// and the parser enforce identical rules.
pub(crate) fn write_prefix(
    out: &mut Vec<u8>,
    kind: Kind,
    key_name: &str,
    key_version: u32,
) -> Result<(), FormatError> {
    validate_key_name(key_name)?;
    validate_key_version(key_version)?;
    // Cannot fail: validation bounded the length to 64.
    let name_len = u8::try_from(key_name.len()).map_err(|_| FormatError::InvalidKeyName)?;
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(kind.to_byte());
    out.push(name_len);
    out.extend_from_slice(key_name.as_bytes());
    out.extend_from_slice(&key_version.to_be_bytes());
    Ok(())
}

/// The parsed common prefix: everything up to and including the version.
pub(crate) struct Prefix<'a> {
    pub(crate) kind: Kind,
    pub(crate) key_name: &'a str,
    pub(crate) key_version: u32,
}

/// Parses the common prefix, reporting the most specific error the
/// available bytes allow (a one-byte value that is not `R` is `BadMagic`,
/// not `TooShort`), so a scanner holding only a prefix gets the same error
/// a full parse would.
pub(crate) fn parse_prefix(bytes: &[u8]) -> Result<Prefix<'_>, FormatError> {
    let len = bytes.len();
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    // Compare as much of the magic as is present.
    if bytes.iter().zip(MAGIC.iter()).any(|(a, b)| a != b) {
        return Err(FormatError::BadMagic);
    }
    if let Some(&version) = bytes.get(2) {
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedFormatVersion(version));
        }
    }
    let kind = match bytes.get(3) {
        Some(&byte) => Kind::from_byte(byte)?,
        None => {
            return Err(FormatError::TooShort {
                len,
                need: SMALLEST_ENVELOPE,
            })
        }
    };
    let Some(&name_len_byte) = bytes.get(4) else {
        return Err(FormatError::TooShort {
            len,
            need: min_total_len(kind, 1),
        });
    };
    let name_len = usize::from(name_len_byte);
    if name_len == 0 || name_len > MAX_KEY_NAME_LEN {
        return Err(FormatError::InvalidKeyName);
    }
    let name_end = FIXED_PREFIX_LEN + name_len;
    let too_short = FormatError::TooShort {
        len,
        need: min_total_len(kind, name_len),
    };
    let name_bytes = bytes
        .get(FIXED_PREFIX_LEN..name_end)
        .ok_or(too_short.clone())?;
    validate_key_name_bytes(name_bytes)?;
    let key_name = core::str::from_utf8(name_bytes).map_err(|_| FormatError::InvalidKeyName)?;
    let version_bytes: [u8; VERSION_LEN] = bytes
        .get(name_end..name_end + VERSION_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(too_short)?;
    let key_version = u32::from_be_bytes(version_bytes);
    validate_key_version(key_version)?;
    Ok(Prefix {
        kind,
        key_name,
        key_version,
    })
}

/// Reads only kind, key name and version from the front of a value (for
/// scanners that may hold only a prefix); same errors as [`Envelope::parse`]
/// for those fields. At most `9 + 64 = 73` bytes are ever needed.
///
/// # Errors
/// Any [`FormatError`] except [`FormatError::TrailingBytes`]; a `TooShort`
/// error reports the minimum length of a whole valid value.
pub fn peek_key_version(bytes: &[u8]) -> Result<(Kind, &str, u32), FormatError> {
    let prefix = parse_prefix(bytes)?;
    Ok((prefix.kind, prefix.key_name, prefix.key_version))
}

/// A parsed envelope borrowing from the input bytes.
///
/// Fields are only ever produced by [`Envelope::parse`], so `header` and
/// `body` always have the lengths the kind requires.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Ciphertext or signature.
    pub kind: Kind,
    /// Name of the key that produced the value.
    pub key_name: &'a str,
    /// Version (>= 1) of that key.
    pub key_version: u32,
    header: &'a [u8],
    body: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses and validates the structure of an envelope, including the
    /// minimum (ciphertext, envelope ciphertext) or exact (signature) length
    /// for its kind. The inner layout of an envelope ciphertext is checked
    /// by `EnvelopeCiphertext::parse`, not here.
    ///
    /// # Errors
    /// A [`FormatError`] describing the first structural problem found.
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, FormatError> {
        let prefix = parse_prefix(bytes)?;
        let kind = prefix.kind;
        let name_len = prefix.key_name.len();
        let len = bytes.len();
        let need = min_total_len(kind, name_len);
        if len < need {
            return Err(FormatError::TooShort { len, need });
        }
        if kind == Kind::Signature && len > need {
            return Err(FormatError::TrailingBytes {
                len,
                expected: need,
            });
        }
        let (header, body) = bytes
            .split_at_checked(header_len(kind, name_len))
            .ok_or(FormatError::TooShort { len, need })?;
        Ok(Envelope {
            kind,
            key_name: prefix.key_name,
            key_version: prefix.key_version,
            header,
            body,
        })
    }

    /// The authenticated header: bytes `[0, 21+N)` of a ciphertext (which
    /// includes the nonce), `[0, 9+N)` of a signature or envelope ciphertext.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }

    /// Kind 1: ciphertext || tag; kind 2: the 32-byte MAC; kind 3: wrapped
    /// key || salt || nonce || payload || tag; kind 4: wrapped key || salt ||
    /// segment size || segments.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The nonce of a ciphertext (last 12 header bytes); `None` for a
    /// signature.
    pub(crate) fn nonce(&self) -> Option<&'a [u8]> {
        match self.kind {
            Kind::Ciphertext => {
                let start = self.header.len().checked_sub(NONCE_LEN)?;
                self.header.get(start..)
            }
            Kind::Signature | Kind::EnvelopeCiphertext | Kind::StreamCiphertext => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestRng;

    /// A structurally valid envelope built by hand (no cryptography), with
    /// `body_len` filler bytes after the header.
    fn envelope_bytes(kind: Kind, name: &str, version: u32, body_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_prefix(&mut out, kind, name, version).expect("valid name and version");
        out.extend(std::iter::repeat_n(
            0xAA,
            kind.header_extra_len() + body_len,
        ));
        out
    }

    #[test]
    fn key_name_length_edges() {
        assert_eq!(validate_key_name(""), Err(FormatError::InvalidKeyName));
        assert_eq!(validate_key_name("a"), Ok(()));
        assert_eq!(validate_key_name(&"a".repeat(64)), Ok(()));
        assert_eq!(
            validate_key_name(&"a".repeat(65)),
            Err(FormatError::InvalidKeyName)
        );
    }

    #[test]
    fn key_name_characters() {
        assert_eq!(validate_key_name("ABCXYZ-abcxyz_0123456789.name"), Ok(()));
        for bad in [
            "with space",
            "slash/name",
            "back\\slash",
            "colon:name",
            "plus+",
            "percent%",
            "nul\0",
            "newline\n",
            "caf\u{e9}",
            "emoji\u{1f511}",
            "tab\t",
        ] {
            assert_eq!(
                validate_key_name(bad),
                Err(FormatError::InvalidKeyName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_key_name_error_explains_the_rule() {
        let message = FormatError::InvalidKeyName.to_string();
        assert!(message.contains("1 to 64"));
        assert!(message.contains("A-Z, a-z, 0-9"));
    }

    #[test]
    fn parses_a_ciphertext_envelope() {
        let bytes = envelope_bytes(Kind::Ciphertext, "orders", 7, 5 + TAG_LEN);
        let env = Envelope::parse(&bytes).expect("valid");
        assert_eq!(env.kind, Kind::Ciphertext);
        assert_eq!(env.key_name, "orders");
        assert_eq!(env.key_version, 7);
        assert_eq!(env.header().len(), 21 + 6);
        assert_eq!(env.body().len(), 5 + TAG_LEN);
        assert_eq!(env.nonce().map(<[u8]>::len), Some(NONCE_LEN));
        assert_eq!(&env.header()[..4], b"RK\x01\x01");
    }

    #[test]
    fn parses_a_signature_envelope() {
        let bytes = envelope_bytes(Kind::Signature, "webhooks", 0x0102_0304, MAC_LEN);
        let env = Envelope::parse(&bytes).expect("valid");
        assert_eq!(env.kind, Kind::Signature);
        assert_eq!(env.key_name, "webhooks");
        assert_eq!(env.key_version, 0x0102_0304);
        assert_eq!(env.header().len(), 9 + 8);
        assert_eq!(
            &env.header()[13..17],
            &[1, 2, 3, 4],
            "version is big-endian"
        );
        assert_eq!(env.body().len(), MAC_LEN);
        assert_eq!(env.nonce(), None);
    }

    #[test]
    fn minimum_ciphertext_has_empty_plaintext() {
        let bytes = envelope_bytes(Kind::Ciphertext, "k", 1, TAG_LEN);
        assert_eq!(bytes.len(), SMALLEST_ENVELOPE);
        assert!(Envelope::parse(&bytes).is_ok());
        assert_eq!(
            Envelope::parse(&bytes[..bytes.len() - 1]).unwrap_err(),
            FormatError::TooShort {
                len: SMALLEST_ENVELOPE - 1,
                need: SMALLEST_ENVELOPE
            }
        );
    }

    #[test]
    fn structural_errors() {
        assert_eq!(Envelope::parse(b"").unwrap_err(), FormatError::Empty);
        assert_eq!(Envelope::parse(b"X").unwrap_err(), FormatError::BadMagic);
        assert_eq!(Envelope::parse(b"RX").unwrap_err(), FormatError::BadMagic);
        assert_eq!(
            Envelope::parse(b"R").unwrap_err(),
            FormatError::TooShort { len: 1, need: 38 }
        );
        assert_eq!(
            Envelope::parse(b"RK\x02\x01").unwrap_err(),
            FormatError::UnsupportedFormatVersion(2)
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x05").unwrap_err(),
            FormatError::UnknownKind(5)
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x00").unwrap_err(),
            FormatError::UnknownKind(0)
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x02").unwrap_err(),
            FormatError::TooShort { len: 4, need: 42 }
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x00").unwrap_err(),
            FormatError::InvalidKeyName
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x41").unwrap_err(),
            FormatError::InvalidKeyName,
            "65-byte names are rejected before reading them"
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x03ab").unwrap_err(),
            FormatError::TooShort {
                len: 7,
                need: 21 + 3 + 16
            }
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x02a/\x00\x00\x00\x01").unwrap_err(),
            FormatError::InvalidKeyName
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x02\xc3\xa9\x00\x00\x00\x01").unwrap_err(),
            FormatError::InvalidKeyName
        );
        assert_eq!(
            Envelope::parse(b"RK\x01\x01\x02ab\x00\x00\x00\x00").unwrap_err(),
            FormatError::ZeroKeyVersion
        );
    }

    #[test]
    fn signature_length_is_exact() {
        let good = envelope_bytes(Kind::Signature, "sig", 1, MAC_LEN);
        let expected = 9 + 3 + MAC_LEN;
        assert_eq!(good.len(), expected);
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            Envelope::parse(&long).unwrap_err(),
            FormatError::TrailingBytes {
                len: expected + 1,
                expected
            }
        );
        assert_eq!(
            Envelope::parse(&good[..expected - 1]).unwrap_err(),
            FormatError::TooShort {
                len: expected - 1,
                need: expected
            }
        );
    }

    #[test]
    fn ciphertexts_may_be_long() {
        let bytes = envelope_bytes(Kind::Ciphertext, "k", 1, 100_000);
        let env = Envelope::parse(&bytes).expect("valid");
        assert_eq!(env.body().len(), 100_000);
    }

    #[test]
    fn peek_reads_the_version_from_a_prefix() {
        let bytes = envelope_bytes(Kind::Ciphertext, "customer.pii", 42, 1000);
        let prefix = &bytes[..9 + 12];
        assert_eq!(
            peek_key_version(prefix),
            Ok((Kind::Ciphertext, "customer.pii", 42))
        );
        assert!(matches!(
            Envelope::parse(prefix),
            Err(FormatError::TooShort { .. })
        ));
        assert_eq!(
            peek_key_version(&bytes[..9 + 11]),
            Err(FormatError::TooShort {
                len: 20,
                need: 21 + 12 + 16
            })
        );
        // The longest possible prefix peek needs is 73 bytes.
        let long_name = "n".repeat(64);
        let bytes = envelope_bytes(Kind::Signature, &long_name, 3, MAC_LEN);
        assert_eq!(
            peek_key_version(&bytes[..73]),
            Ok((Kind::Signature, long_name.as_str(), 3))
        );
    }

    #[test]
    fn peek_reports_the_same_errors_as_parse() {
        for bad in [
            &b""[..],
            b"X",
            b"RK\x09",
            b"RK\x01\x07",
            b"RK\x01\x01\x00",
            b"RK\x01\x01\x01-\x00\x00\x00\x00",
        ] {
            assert_eq!(
                peek_key_version(bad).unwrap_err(),
                Envelope::parse(bad).unwrap_err()
            );
        }
    }

    #[test]
    fn every_prefix_of_a_valid_value_is_rejected_without_panicking() {
        for kind in [Kind::Ciphertext, Kind::Signature, Kind::EnvelopeCiphertext] {
            let bytes = envelope_bytes(kind, "prefix-test", 9, kind.min_body_len(11));
            for end in 0..bytes.len() {
                assert!(Envelope::parse(&bytes[..end]).is_err(), "{kind:?} {end}");
                let peeked = peek_key_version(&bytes[..end]);
                assert_eq!(peeked.is_ok(), end >= 9 + 11, "{kind:?} {end}");
            }
            assert!(Envelope::parse(&bytes).is_ok());
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = TestRng::new(0x5EED);
        for i in 0..20_000 {
            let len = rng.below(120);
            let mut bytes = rng.bytes(len);
            // Most random inputs stop at the magic; give half of them a valid
            // start so the deeper checks get exercised too.
            if i % 2 == 0 {
                for (dst, src) in bytes.iter_mut().zip(b"RK\x01") {
                    *dst = *src;
                }
                if let Some(kind) = bytes.get_mut(3) {
                    *kind = u8::try_from(rng.below(3) + 1).unwrap_or(1);
                }
                if let Some(n) = bytes.get_mut(4) {
                    *n = u8::try_from(rng.below(70)).unwrap_or(1);
                }
            }
            let parsed = Envelope::parse(&bytes);
            let peeked = peek_key_version(&bytes);
            if let Ok(env) = parsed {
                assert_eq!(peeked, Ok((env.kind, env.key_name, env.key_version)));
                assert_eq!(env.header().len() + env.body().len(), bytes.len());
            }
        }
    }

    #[test]
    fn write_prefix_validates() {
        let mut out = Vec::new();
        assert_eq!(
            write_prefix(&mut out, Kind::Signature, "", 1),
            Err(FormatError::InvalidKeyName)
        );
        assert_eq!(
            write_prefix(&mut out, Kind::Signature, "k", 0),
            Err(FormatError::ZeroKeyVersion)
        );
        assert!(out.is_empty(), "nothing is written on error");
    }

    #[test]
    fn kind_displays_for_error_messages() {
        assert_eq!(Kind::Ciphertext.to_string(), "an AES-256-GCM ciphertext");
        assert_eq!(Kind::Signature.to_string(), "an HMAC-SHA256 signature");
        assert_eq!(Kind::Ciphertext.to_byte(), 1);
        assert_eq!(Kind::Signature.to_byte(), 2);
        assert_eq!(Kind::EnvelopeCiphertext.to_byte(), 3);
        assert_eq!(
            Kind::EnvelopeCiphertext.to_string(),
            "an envelope ciphertext"
        );
    }

    #[test]
    fn envelope_ciphertext_minimum_is_122_plus_twice_the_name() {
        assert_eq!(min_total_len(Kind::EnvelopeCiphertext, 1), 124);
        assert_eq!(min_total_len(Kind::EnvelopeCiphertext, 64), 250);
        assert_eq!(
            Envelope::parse(b"RK\x01\x03").unwrap_err(),
            FormatError::TooShort { len: 4, need: 124 }
        );
        let bytes = envelope_bytes(Kind::EnvelopeCiphertext, "ab", 4, 113 + 2);
        assert_eq!(bytes.len(), 126);
        let env = Envelope::parse(&bytes).expect("long enough");
        assert_eq!(env.kind, Kind::EnvelopeCiphertext);
        assert_eq!(env.header().len(), 11);
        assert_eq!(
            Envelope::parse(&bytes[..125]).unwrap_err(),
            FormatError::TooShort {
                len: 125,
                need: 126
            }
        );
    }
}
