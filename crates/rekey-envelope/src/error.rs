//! Error types of the envelope crate.
//!
//! These messages end up in gRPC status details read by operators and client
//! developers, so each one says what was wrong and, where it helps, what a
//! valid value looks like. None of them ever carries key bytes, plaintext or
//! raw input bytes: the only data they include are lengths, versions and
//! single format bytes, which are not secret.

use super::format::Kind;
use super::format_error::FormatError;

/// An encryption, decryption, signing or key-handling operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CryptoError {
    /// The envelope, key name or key version is structurally invalid.
    #[error(transparent)]
    Format(#[from] FormatError),

    /// The AES-GCM tag did not verify. Deliberately does not distinguish a
    /// wrong key from modified bytes or different associated data: telling
    /// them apart would help an attacker and is impossible anyway. Also
    /// returned for a message past AES-GCM's size limits (64 GiB of
    /// plaintext), which no request can reach and no genuine ciphertext has.
    #[error(
        "ciphertext failed authentication: it was modified, or the associated data \
         differs from the one used to encrypt"
    )]
    AuthenticationFailed,

    /// A segment of a stream ciphertext did not verify: it was modified, moved (reordered,
    /// duplicated), or the stream was truncated or extended (the last segment's flag), or
    /// the associated data differs.
    #[error(
        "stream ciphertext failed authentication: a segment was modified, reordered, \
         duplicated or removed, the stream was truncated or extended, or the associated \
         data differs"
    )]
    StreamAuthenticationFailed,

    /// A byte range asked of a stream lies outside its plaintext or is reversed.
    #[error("byte range {start}..{end} is outside the stream's {len} bytes of plaintext")]
    RangeOutOfBounds {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// Plaintext length of the stream.
        len: u64,
    },

    /// A stream writer broke the segment rules (a programming error in the adapter, or a
    /// stream past 2^32 segments); never caused by the bytes of a value.
    #[error("stream ciphertext misuse: {0}")]
    StreamMisuse(&'static str),

    /// A signature was given where a ciphertext was expected, or vice versa.
    #[error("wrong kind of value: expected {expected}, found {found}")]
    WrongKind {
        /// The kind the operation works on.
        expected: Kind,
        /// The kind the envelope actually has.
        found: Kind,
    },

    /// Raw key material must be exactly [`KEY_LEN`](super::KEY_LEN) bytes.
    #[error("key material must be exactly 32 bytes, got {len}")]
    InvalidKeyLength {
        /// Length of the material that was given.
        len: usize,
    },

    /// The configured root key could not be loaded. The string is the
    /// reason only; it never contains the key text.
    #[error("invalid root key: {0}")]
    InvalidRootKey(String),

    /// A stored (wrapped) key version could not be unwrapped with the root
    /// key: either the server runs with a different root key than the one
    /// that wrapped it, or the stored row was altered or moved to another key
    /// name or version.
    #[error("stored key material failed to unwrap: wrong root key or the row was altered")]
    WrappedKeyInvalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_messages_are_actionable() {
        assert_eq!(FormatError::Empty.to_string(), "ciphertext is empty");
        assert_eq!(
            FormatError::TooShort { len: 10, need: 38 }.to_string(),
            "ciphertext is truncated: 10 bytes, a valid one has at least 38"
        );
        assert_eq!(
            FormatError::BadMagic.to_string(),
            "not a Rekey ciphertext: it does not start with the bytes \"RK\""
        );
        assert_eq!(
            FormatError::UnsupportedFormatVersion(2).to_string(),
            "unsupported ciphertext format version 2; this server reads version 1"
        );
        assert!(FormatError::UnknownKind(0xab).to_string().contains("0xab"));
        assert!(FormatError::ZeroKeyVersion
            .to_string()
            .contains("start at 1"));
        assert_eq!(
            FormatError::TrailingBytes {
                len: 50,
                expected: 49
            }
            .to_string(),
            "signature has the wrong length: 50 bytes, expected exactly 49"
        );
    }

    #[test]
    fn crypto_messages_are_actionable() {
        assert_eq!(
            CryptoError::AuthenticationFailed.to_string(),
            "ciphertext failed authentication: it was modified, or the associated data \
             differs from the one used to encrypt"
        );
        assert_eq!(
            CryptoError::WrappedKeyInvalid.to_string(),
            "stored key material failed to unwrap: wrong root key or the row was altered"
        );
        assert_eq!(
            CryptoError::WrongKind {
                expected: Kind::Ciphertext,
                found: Kind::Signature
            }
            .to_string(),
            "wrong kind of value: expected an AES-256-GCM ciphertext, found an HMAC-SHA256 \
             signature"
        );
        assert_eq!(
            CryptoError::InvalidKeyLength { len: 31 }.to_string(),
            "key material must be exactly 32 bytes, got 31"
        );
        assert_eq!(
            CryptoError::from(FormatError::Empty).to_string(),
            "ciphertext is empty",
            "format errors are shown without a prefix"
        );
        assert_eq!(
            CryptoError::InvalidRootKey("it is empty".into()).to_string(),
            "invalid root key: it is empty"
        );
    }
}
