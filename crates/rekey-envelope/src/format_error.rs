//! The error of parsing an envelope: what was structurally wrong with the bytes. It names
//! lengths, versions and single format bytes, never the input itself.

use super::format::Kind;

/// A value could not be parsed as a Rekey ciphertext or signature envelope.
///
/// Parsing needs no key, so these errors say nothing about authenticity; they
/// only describe the structure of the bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum FormatError {
    /// The value has no bytes at all.
    #[error("ciphertext is empty")]
    Empty,

    /// The value ends before a structurally valid envelope could.
    ///
    /// `need` is the minimum total length of a valid value of the kind and
    /// key-name length read so far (the smallest possible envelope when even
    /// those could not be read).
    #[error("ciphertext is truncated: {len} bytes, a valid one has at least {need}")]
    TooShort {
        /// Length of the value that was given.
        len: usize,
        /// Minimum length a valid value would have.
        need: usize,
    },

    /// The value does not start with `RK`, so it was not produced by Rekey
    /// (or was encoded/decoded incorrectly on the way, e.g. still base64).
    #[error("not a Rekey ciphertext: it does not start with the bytes \"RK\"")]
    BadMagic,

    /// The format version byte is not one this build understands.
    #[error("unsupported ciphertext format version {0}; this server reads version 1")]
    UnsupportedFormatVersion(u8),

    /// The kind byte is not ciphertext (0x01), signature (0x02), envelope
    /// ciphertext (0x03) or stream ciphertext (0x04).
    #[error(
        "unknown ciphertext kind 0x{0:02x}; expected 0x01 (AES-256-GCM ciphertext), \
         0x02 (HMAC-SHA256 signature), 0x03 (envelope ciphertext) or 0x04 (stream ciphertext)"
    )]
    UnknownKind(u8),

    /// The key name is empty, longer than 64 bytes, or has a byte outside
    /// `[A-Za-z0-9_.-]`. The offending bytes are deliberately not echoed.
    #[error(
        "invalid key name: it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, \
         '_', '.' or '-'"
    )]
    InvalidKeyName,

    /// Key versions are numbered from 1; version 0 never exists.
    #[error("invalid key version 0: key versions start at 1")]
    ZeroKeyVersion,

    /// A signature envelope is longer than its exact fixed length.
    #[error("signature has the wrong length: {len} bytes, expected exactly {expected}")]
    TrailingBytes {
        /// Length of the value that was given.
        len: usize,
        /// The exact length a signature with this key name has.
        expected: usize,
    },

    /// An operation on envelope ciphertexts was given another kind of
    /// value (a plain ciphertext or a signature).
    #[error("not an envelope ciphertext: found {found}, expected kind 0x03")]
    NotEnvelopeCiphertext {
        /// The kind the value actually has.
        found: Kind,
    },

    /// An operation on stream ciphertexts was given another kind of value.
    #[error("not a stream ciphertext: found {found}, expected kind 0x04")]
    NotStreamCiphertext {
        /// The kind the value actually has.
        found: Kind,
    },

    /// A stream header's segment size is outside the range the format allows.
    #[error(
        "stream ciphertext has an invalid segment size of {0} bytes; it must be between \
         256 and 1048576"
    )]
    InvalidSegmentSize(u32),

    /// The data key embedded in an envelope ciphertext is not a kind-0x01
    /// ciphertext under the key name and key version the envelope's header
    /// names: the value was altered or assembled from mismatched parts.
    #[error(
        "envelope ciphertext is malformed: its embedded data key must be a Rekey \
         AES-256-GCM ciphertext (kind 0x01) of a 32-byte key under the key name and \
         key version in the envelope's header"
    )]
    InvalidWrappedKey,

    /// A wrapped data key given to build a data key or to rewrap an
    /// envelope ciphertext is not a kind-0x01 ciphertext of a 32-byte key
    /// under the expected key name (and, for a new data key, key version).
    #[error(
        "wrapped data key does not fit: it must be a Rekey AES-256-GCM ciphertext \
         (kind 0x01) of a 32-byte key, made by GenerateDataKey or Rewrap under the \
         same key name (and, for a new data key, the same key version)"
    )]
    WrappedKeyMismatch,
}
