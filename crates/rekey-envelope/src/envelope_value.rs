//! The layout of kind-0x03 envelope ciphertexts: parsing, and the
//! server-side rewrap that swaps only the embedded wrapped data key.
//!
//! Parsing needs no key, like [`Envelope::parse`]: the header names the key
//! version that wraps the data key, so migration scans read it with
//! `peek_key_version` and rewrap old values without any plaintext.
//! Sealing and opening live in `data_key.rs`.
//!
//! ```text
//! 0        9+N    common header, kind 0x03, version = wrapping key version
//! 9+N      69+N   wrapped data key: a kind-0x01 ciphertext of the 32-byte data
//!                 key under the same key name and key version as the header
//! 78+2N    16     salt (random per message)
//! 94+2N    12     nonce (random per message)
//! 106+2N   L      payload ciphertext
//! 106+2N+L 16     GCM tag
//! ```

use super::format::{
    header_len, min_total_len, parse_prefix, Envelope, Kind, ENVELOPE_SALT_LEN, FIXED_PREFIX_LEN,
    NONCE_LEN, TAG_LEN, VERSION_LEN,
};
use super::format_error::FormatError;
use super::material::KEY_LEN;

/// Length of an envelope ciphertext's per-message salt (128 bits).
pub const SALT_LEN: usize = ENVELOPE_SALT_LEN;

/// Associated data of the `GenerateDataKey` and `Decrypt` calls that make
/// and unwrap an envelope's data key, so a data key wrapped for envelope
/// use cannot be confused with an ordinary ciphertext, and vice versa.
pub const DATA_KEY_AAD: &[u8] = b"rekey/v1 envelope data key";

/// Length of the wrapped data key embedded in an envelope ciphertext for a
/// key name of `name_len` bytes: a kind-0x01 ciphertext of 32 bytes,
/// `21 + N + 32 + 16 = 69 + N`. Fixed, so the format needs no length field.
#[must_use]
pub const fn wrapped_key_len(name_len: usize) -> usize {
    header_len(Kind::Ciphertext, name_len) + KEY_LEN + TAG_LEN
}

/// Total length of an envelope ciphertext with a key name of `name_len`
/// bytes and `payload_len` bytes of plaintext: `122 + 2N + L`.
#[must_use]
pub const fn envelope_len(name_len: usize, payload_len: usize) -> usize {
    min_total_len(Kind::EnvelopeCiphertext, name_len) + payload_len
}

/// A parsed envelope ciphertext borrowing from the input bytes. Only
/// [`EnvelopeCiphertext::parse`] builds one, so every part has its length.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeCiphertext<'a> {
    key_name: &'a str,
    key_version: u32,
    /// Magic through key name: the header minus the key version, which the
    /// payload's AAD covers (the version is deliberately left out).
    bound_prefix: &'a [u8],
    wrapped_key: &'a [u8],
    salt: &'a [u8; SALT_LEN],
    nonce: &'a [u8; NONCE_LEN],
    payload: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

impl<'a> EnvelopeCiphertext<'a> {
    /// Parses and validates the structure of an envelope ciphertext,
    /// including that its embedded wrapped key is a kind-0x01 ciphertext of
    /// a 32-byte key under the header's key name and key version.
    ///
    /// # Errors
    /// Any [`FormatError`] of the common header; `NotEnvelopeCiphertext`
    /// for another kind; `TooShort` below `122 + 2N` bytes;
    /// `InvalidWrappedKey` if the embedded key does not match the header.
    pub fn parse(bytes: &'a [u8]) -> Result<EnvelopeCiphertext<'a>, FormatError> {
        let prefix = parse_prefix(bytes)?;
        if prefix.kind != Kind::EnvelopeCiphertext {
            return Err(FormatError::NotEnvelopeCiphertext { found: prefix.kind });
        }
        let name_len = prefix.key_name.len();
        let len = bytes.len();
        let need = envelope_len(name_len, 0);
        let too_short = FormatError::TooShort { len, need };
        let header_end = header_len(Kind::EnvelopeCiphertext, name_len);
        let wrapped_end = header_end + wrapped_key_len(name_len);
        let salt_end = wrapped_end + SALT_LEN;
        let nonce_end = salt_end + NONCE_LEN;
        let tag_start = len.checked_sub(TAG_LEN).ok_or(too_short.clone())?;
        if len < need || tag_start < nonce_end {
            return Err(too_short);
        }
        let part = |from: usize, to: usize| bytes.get(from..to).ok_or(too_short.clone());
        let wrapped_key = part(header_end, wrapped_end)?;
        check_embedded_key(wrapped_key, prefix.key_name, prefix.key_version)?;
        let salt = part(wrapped_end, salt_end)?
            .try_into()
            .map_err(|_| too_short.clone())?;
        let nonce = part(salt_end, nonce_end)?
            .try_into()
            .map_err(|_| too_short.clone())?;
        let tag = part(tag_start, len)?
            .try_into()
            .map_err(|_| too_short.clone())?;
        Ok(EnvelopeCiphertext {
            key_name: prefix.key_name,
            key_version: prefix.key_version,
            bound_prefix: part(0, FIXED_PREFIX_LEN + name_len)?,
            wrapped_key,
            salt,
            nonce,
            payload: part(nonce_end, tag_start)?,
            tag,
        })
    }

    /// Name of the key that wraps the data key (and names the value).
    #[must_use]
    pub fn key_name(&self) -> &'a str {
        self.key_name
    }

    /// Version of that key which wraps the embedded data key.
    #[must_use]
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The embedded wrapped data key: a complete kind-0x01 ciphertext, to
    /// be unwrapped with `Decrypt(wrapped_key, DATA_KEY_AAD)`.
    #[must_use]
    pub fn wrapped_key(&self) -> &'a [u8] {
        self.wrapped_key
    }

    /// The per-message salt that, with the data key, derives the message key.
    #[must_use]
    pub fn salt(&self) -> &'a [u8; SALT_LEN] {
        self.salt
    }

    /// The payload's AES-GCM nonce.
    #[must_use]
    pub fn nonce(&self) -> &'a [u8; NONCE_LEN] {
        self.nonce
    }

    /// The payload ciphertext, without its tag (as long as the plaintext).
    #[must_use]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload's 128-bit GCM tag.
    #[must_use]
    pub fn tag(&self) -> &'a [u8; TAG_LEN] {
        self.tag
    }

    /// Bytes `[0, 5+N)`: magic, format version, kind, N and key name, the
    /// part of the header the payload's authentication covers.
    pub(crate) fn bound_prefix(&self) -> &'a [u8] {
        self.bound_prefix
    }
}

/// Checks the wrapped key embedded in an envelope or stream header: a kind-0x01
/// ciphertext under the header's own key name and version.
pub(crate) fn check_embedded_key(
    wrapped_key: &[u8],
    key_name: &str,
    key_version: u32,
) -> Result<(), FormatError> {
    let inner = Envelope::parse(wrapped_key).map_err(|_| FormatError::InvalidWrappedKey)?;
    if inner.kind != Kind::Ciphertext
        || inner.key_name != key_name
        || inner.key_version != key_version
    {
        return Err(FormatError::InvalidWrappedKey);
    }
    Ok(())
}

/// Checks that `wrapped_key` is a kind-0x01 ciphertext of a 32-byte key
/// under `key_name` (and `key_version` when given); returns its version.
pub(crate) fn check_wrapped_key(
    wrapped_key: &[u8],
    key_name: &str,
    key_version: Option<u32>,
) -> Result<u32, FormatError> {
    let inner = Envelope::parse(wrapped_key).map_err(|_| FormatError::WrappedKeyMismatch)?;
    let version_ok = key_version.is_none_or(|v| v == inner.key_version);
    if inner.kind != Kind::Ciphertext
        || inner.key_name != key_name
        || !version_ok
        || wrapped_key.len() != wrapped_key_len(key_name.len())
    {
        return Err(FormatError::WrappedKeyMismatch);
    }
    Ok(inner.key_version)
}

/// Server-side rewrap: returns `value` (an envelope or a stream ciphertext) with its
/// embedded wrapped data key replaced by `new_wrapped_key` (the same data key, re-encrypted
/// by the server under another version of the same key) and the header's key version set
/// to the new key's version. Everything after the wrapped key (salt, nonce, payload and tag;
/// or salt, segment size and segments) is copied unchanged: neither kind's authentication
/// covers the key version, so it stays valid.
///
/// # Errors
/// As [`rewrapped_head`].
pub fn replace_wrapped_key(value: &[u8], new_wrapped_key: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(value.len());
    out.extend_from_slice(&rewrapped_head(value, new_wrapped_key)?);
    out.extend_from_slice(&value[out.len()..]);
    Ok(out)
}

/// The head of `value` (an envelope or a stream ciphertext) as [`replace_wrapped_key`]
/// would make it: its bytes up to the end of the embedded wrapped data key, with that key
/// replaced by `new_wrapped_key` and the header's version set to its version. The head is
/// exactly as long as the one it replaces (`value[..head.len()]`): a value's key name fixes
/// the length of its wrapped key. Writing it over the old head leaves a valid value, whatever
/// follows, which is what lets a migration rewrite only the head of a stored value in place.
///
/// # Errors
/// Any error of [`EnvelopeCiphertext::parse`] or `StreamHeader::parse` for `value`
/// (`NotEnvelopeCiphertext` for a kind that embeds no data key);
/// [`FormatError::WrappedKeyMismatch`] unless `new_wrapped_key` is a kind-0x01 ciphertext
/// of 32 bytes under the value's key name.
pub fn rewrapped_head(value: &[u8], new_wrapped_key: &[u8]) -> Result<Vec<u8>, FormatError> {
    let key_name = match parse_prefix(value)?.kind {
        Kind::StreamCiphertext => super::stream::StreamHeader::parse(value)?.key_name(),
        _ => EnvelopeCiphertext::parse(value)?.key_name,
    };
    let new_version = check_wrapped_key(new_wrapped_key, key_name, None)?;
    let name_len = key_name.len();
    let bound_end = FIXED_PREFIX_LEN + name_len;
    let header_end = bound_end + VERSION_LEN;
    let head_end = header_end + wrapped_key_len(name_len);
    let (Some(bound_prefix), true) = (value.get(..bound_end), value.len() >= head_end) else {
        return Err(FormatError::InvalidWrappedKey);
    };
    let mut head = Vec::with_capacity(head_end);
    head.extend_from_slice(bound_prefix);
    head.extend_from_slice(&new_version.to_be_bytes());
    head.extend_from_slice(new_wrapped_key);
    Ok(head)
}
