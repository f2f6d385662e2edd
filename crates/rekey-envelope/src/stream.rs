//! Stream ciphertexts (kind 0x04): a payload of any length in segments, each
//! sealed under a per-stream key with the STREAM construction, so a stream is
//! written and read in constant memory and any segment opens alone.
//!
//! ```text
//! 0        9+N    common header, kind 0x04, version = wrapping key version
//! 9+N      69+N   wrapped data key (exactly as in an envelope ciphertext)
//! 78+2N    16     salt (random per stream)
//! 94+2N    4      segment size S, u32 big-endian, 256..=1 MiB
//! 98+2N    ...    segments: ciphertext of S plaintext bytes (the last: 0..=S) || tag
//! ```
//!
//! The stream key is `HKDF-Expand(DK, "rekey/v1 stream segment key" || salt, 32)`; segment
//! `i`'s nonce is seven zero bytes, `i` (u32 big-endian) and a last-segment flag; every
//! segment's AAD is `bytes[0, 5+N) || salt || S || caller AD`. The index and flag in the
//! nonce are what make truncation, reordering, duplication and appending fail. The first
//! `78 + 2N` bytes are laid out as in an envelope ciphertext, so the server rewraps a stream
//! header exactly like one (`replace_wrapped_key`). Specified in `docs/ciphertext-format.md`.
//!
//! This module holds the layout (the header, where each segment lies); `stream_seal.rs` the
//! crypto (sealer, opener, the `DataKey` methods). Both are pure: the adapters that read and
//! write streams live in the clients and the server, and share [`StreamLayout`].

use core::ops::Range;

use super::envelope_value::{check_embedded_key, wrapped_key_len, SALT_LEN};
use super::error::CryptoError;
use super::format::{
    header_len, min_total_len, parse_prefix, Kind, FIXED_PREFIX_LEN, SEGMENT_SIZE_LEN, TAG_LEN,
};
use super::format_error::FormatError;

/// Smallest segment size (plaintext bytes per segment) the format allows.
pub const MIN_SEGMENT_SIZE: u32 = 256;
/// Largest segment size the format allows (1 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 1 << 20;
/// Segment size writers use unless told otherwise (64 KiB).
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 16;

/// HKDF info label of the stream key; distinct from the envelope's message-key label so
/// the two never coincide for one data key and salt.
pub(crate) const STREAM_KEY_LABEL: &[u8] = b"rekey/v1 stream segment key";

/// Length of the stream header for a key name of `name_len` bytes: `98 + 2N`.
#[must_use]
pub const fn stream_header_len(name_len: usize) -> usize {
    header_len(Kind::StreamCiphertext, name_len)
        + wrapped_key_len(name_len)
        + SALT_LEN
        + SEGMENT_SIZE_LEN
}

/// Total length of a stream ciphertext of `plaintext_len` bytes: the header, the plaintext,
/// and one tag per segment (`max(1, ceil(P / S))` segments).
#[must_use]
pub fn stream_len(name_len: usize, segment_size: u32, plaintext_len: u64) -> u64 {
    let segments = plaintext_len.div_ceil(u64::from(segment_size)).max(1);
    stream_header_len(name_len) as u64 + plaintext_len + segments * TAG_LEN as u64
}

/// Checks a segment size against the format's range.
///
/// # Errors
/// [`FormatError::InvalidSegmentSize`] outside `256..=1048576`.
pub const fn validate_segment_size(segment_size: u32) -> Result<(), FormatError> {
    if segment_size < MIN_SEGMENT_SIZE || segment_size > MAX_SEGMENT_SIZE {
        return Err(FormatError::InvalidSegmentSize(segment_size));
    }
    Ok(())
}

/// A parsed stream header borrowing from the input bytes; only
/// [`StreamHeader::parse`] builds one.
#[derive(Debug, Clone, Copy)]
pub struct StreamHeader<'a> {
    key_name: &'a str,
    key_version: u32,
    /// Bytes `[0, 5+N)`: what every segment's AAD binds of the header.
    bound_prefix: &'a [u8],
    wrapped_key: &'a [u8],
    salt: &'a [u8; SALT_LEN],
    segment_size: u32,
}

impl<'a> StreamHeader<'a> {
    /// Parses the stream header at the start of `bytes`, which may hold more (segments) or
    /// exactly the header: a reader parses the header before it has read any segment.
    ///
    /// # Errors
    /// Any [`FormatError`] of the common header; `NotStreamCiphertext` for another kind;
    /// `TooShort` when `bytes` ends inside the header (the `need` it reports is the smallest
    /// whole stream, header plus one empty segment); `InvalidWrappedKey` if the embedded key
    /// does not match the header; `InvalidSegmentSize`.
    pub fn parse(bytes: &'a [u8]) -> Result<StreamHeader<'a>, FormatError> {
        let prefix = parse_prefix(bytes)?;
        if prefix.kind != Kind::StreamCiphertext {
            return Err(FormatError::NotStreamCiphertext { found: prefix.kind });
        }
        let name_len = prefix.key_name.len();
        let too_short = || FormatError::TooShort {
            len: bytes.len(),
            need: min_total_len(Kind::StreamCiphertext, name_len),
        };
        let header_end = header_len(Kind::StreamCiphertext, name_len);
        let wrapped_end = header_end + wrapped_key_len(name_len);
        let salt_end = wrapped_end + SALT_LEN;
        let size_end = salt_end + SEGMENT_SIZE_LEN;
        if bytes.len() < size_end {
            return Err(too_short());
        }
        let part = |from: usize, to: usize| bytes.get(from..to).ok_or_else(too_short);
        let wrapped_key = part(header_end, wrapped_end)?;
        check_embedded_key(wrapped_key, prefix.key_name, prefix.key_version)?;
        let salt = part(wrapped_end, salt_end)?
            .try_into()
            .map_err(|_| too_short())?;
        let size: [u8; SEGMENT_SIZE_LEN] = part(salt_end, size_end)?
            .try_into()
            .map_err(|_| too_short())?;
        let segment_size = u32::from_be_bytes(size);
        validate_segment_size(segment_size)?;
        Ok(StreamHeader {
            key_name: prefix.key_name,
            key_version: prefix.key_version,
            bound_prefix: part(0, FIXED_PREFIX_LEN + name_len)?,
            wrapped_key,
            salt,
            segment_size,
        })
    }

    /// Name of the key that wraps the data key.
    #[must_use]
    pub fn key_name(&self) -> &'a str {
        self.key_name
    }

    /// Version of that key which wraps the embedded data key.
    #[must_use]
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The embedded wrapped data key, to unwrap with `Decrypt(wrapped_key, DATA_KEY_AAD)`.
    #[must_use]
    pub fn wrapped_key(&self) -> &'a [u8] {
        self.wrapped_key
    }

    /// Plaintext bytes per segment.
    #[must_use]
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The stream's salt (with the data key, it derives the stream key).
    pub(crate) fn salt(&self) -> &'a [u8; SALT_LEN] {
        self.salt
    }

    /// Bytes `[0, 5+N)`: what every segment's AAD binds of the header.
    pub(crate) fn bound_prefix(&self) -> &'a [u8] {
        self.bound_prefix
    }

    /// Length of this header: `98 + 2N`; the first segment starts here.
    #[must_use]
    pub fn len(&self) -> usize {
        stream_header_len(self.key_name.len())
    }

    /// Never true: a header has at least 100 bytes (for `len`'s lint pairing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Reads the length of a stream header from its first five bytes (magic, version, kind,
/// name length), so a reader knows how many bytes to read before [`StreamHeader::parse`].
///
/// # Errors
/// The common header's errors for those bytes (`TooShort` for fewer than five);
/// `NotStreamCiphertext` for another kind.
pub fn stream_header_len_from_prefix(first_five: &[u8]) -> Result<usize, FormatError> {
    let five = first_five
        .get(..FIXED_PREFIX_LEN)
        .ok_or(FormatError::TooShort {
            len: first_five.len(),
            need: min_total_len(Kind::StreamCiphertext, 1),
        })?;
    // Five bytes never hold a name and version: the parser checks what they do hold and
    // then asks for more, which is the answer we want.
    match parse_prefix(five) {
        Err(FormatError::TooShort { .. }) | Ok(_) => {}
        Err(e) => return Err(e),
    }
    let kind = Kind::from_byte(five[3])?;
    if kind != Kind::StreamCiphertext {
        return Err(FormatError::NotStreamCiphertext { found: kind });
    }
    Ok(stream_header_len(usize::from(five[4])))
}

/// Where each segment of a stream of known total length lies, and which segments a range
/// of plaintext needs. Pure arithmetic, shared by every reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLayout {
    header_len: u64,
    segment_size: u64,
    total_len: u64,
    segments: u64,
}

impl StreamLayout {
    /// The layout of a stream whose header is `header` and whose whole length is `total_len`.
    ///
    /// # Errors
    /// [`CryptoError::StreamAuthenticationFailed`] when the bytes after the header cannot
    /// hold a last segment (fewer than 16, or a last segment cut inside its tag): the
    /// stream was truncated.
    pub fn new(header: &StreamHeader<'_>, total_len: u64) -> Result<StreamLayout, CryptoError> {
        let header_len = header.len() as u64;
        let segment_size = u64::from(header.segment_size());
        let body = total_len
            .checked_sub(header_len)
            .filter(|&body| body >= TAG_LEN as u64)
            .ok_or(CryptoError::StreamAuthenticationFailed)?;
        let full = segment_size + TAG_LEN as u64;
        let segments = body.div_ceil(full);
        let last_len = body - (segments - 1) * full;
        if last_len < TAG_LEN as u64 || segments > u64::from(u32::MAX) + 1 {
            return Err(CryptoError::StreamAuthenticationFailed);
        }
        Ok(StreamLayout {
            header_len,
            segment_size,
            total_len,
            segments,
        })
    }

    /// Number of segments (at least 1).
    #[must_use]
    pub fn segment_count(&self) -> u64 {
        self.segments
    }

    /// Length of the plaintext the stream carries.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.total_len - self.header_len - self.segments * TAG_LEN as u64
    }

    /// Byte range of segment `index` in the stream (ciphertext and tag) and whether it is
    /// the last; `None` past the last segment.
    #[must_use]
    pub fn segment(&self, index: u64) -> Option<(Range<u64>, bool)> {
        if index >= self.segments {
            return None;
        }
        let full = self.segment_size + TAG_LEN as u64;
        let start = self.header_len + index * full;
        let last = index + 1 == self.segments;
        let end = if last { self.total_len } else { start + full };
        Some((start..end, last))
    }

    /// Indexes of the segments holding plaintext bytes `range`, which must lie within the
    /// plaintext (an empty range needs no segment).
    ///
    /// # Errors
    /// [`CryptoError::RangeOutOfBounds`] if `range` is reversed or ends past the plaintext.
    pub fn segments_for(&self, range: Range<u64>) -> Result<Range<u64>, CryptoError> {
        let len = self.plaintext_len();
        if range.start > range.end || range.end > len {
            return Err(CryptoError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len,
            });
        }
        if range.is_empty() {
            return Ok(0..0);
        }
        Ok(range.start / self.segment_size..(range.end - 1) / self.segment_size + 1)
    }

    /// Plaintext offset of segment `index`'s first byte.
    #[must_use]
    pub fn plaintext_offset(&self, index: u64) -> u64 {
        index * self.segment_size
    }
}
