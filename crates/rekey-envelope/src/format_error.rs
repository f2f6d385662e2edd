//! The error of parsing an envelope: what was structurally wrong with the bytes. It names
//! lengths, versions and single format bytes, never the input itself.

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

    /// The kind byte is neither ciphertext (0x01) nor signature (0x02).
    #[error(
        "unknown ciphertext kind 0x{0:02x}; expected 0x01 (AES-256-GCM ciphertext) \
         or 0x02 (HMAC-SHA256 signature)"
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
}
