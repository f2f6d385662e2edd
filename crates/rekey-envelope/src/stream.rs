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
//! This module is pure: the adapters that read and write streams live in the clients and
//! the server; they share [`StreamLayout`] for where each segment is.

use core::fmt;
use core::ops::Range;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::AeadInOut;
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use super::data_key::DataKey;
use super::envelope_value::{check_embedded_key, wrapped_key_len, SALT_LEN};
use super::error::CryptoError;
use super::format::{
    header_len, min_total_len, parse_prefix, Kind, FIXED_PREFIX_LEN, NONCE_LEN, SEGMENT_SIZE_LEN,
    TAG_LEN,
};
use super::format_error::FormatError;
use super::rng;

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

/// Seals the segments of one stream in order; made with the header by
/// [`DataKey::stream_sealer`]. Holds the stream key (wiped on drop with the cipher).
pub struct StreamSealer {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    segment_size: u32,
    next_index: u64,
    finished: bool,
}

impl StreamSealer {
    /// Plaintext bytes per segment.
    #[must_use]
    pub fn segment_size(&self) -> usize {
        self.segment_size as usize
    }

    /// Whether the last segment has been sealed.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Seals the next segment in place: `buf` holds its plaintext (exactly the segment size,
    /// or for the last segment at most that, and empty only when it is the first) and
    /// receives its ciphertext and tag.
    ///
    /// # Errors
    /// [`CryptoError::StreamMisuse`] for a segment after the last, a short non-last
    /// segment, an oversized or empty-but-not-first last segment, or a 2^32nd segment.
    pub fn seal_segment(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        let size = self.segment_size();
        if self.finished {
            return Err(CryptoError::StreamMisuse("a segment after the last one"));
        }
        if buf.len() > size || (!last && buf.len() != size) {
            return Err(CryptoError::StreamMisuse(
                "a segment must hold exactly the segment size, the last one at most that",
            ));
        }
        if last && buf.is_empty() && self.next_index > 0 {
            return Err(CryptoError::StreamMisuse(
                "an empty last segment after other segments",
            ));
        }
        let nonce = segment_nonce(self.next_index, last)?;
        let tag = self
            .cipher
            .encrypt_inout_detached((&nonce).into(), &self.aad, buf.as_mut_slice().into())
            .map_err(|_| CryptoError::StreamMisuse("segment too large"))?;
        buf.extend_from_slice(&tag);
        self.next_index += 1;
        self.finished = last;
        Ok(())
    }

    /// Seals the next segment, which is not the last, from exactly one segment of
    /// `plaintext` into `out`, which must be exactly a segment and a tag long (ciphertext,
    /// then the tag): one pass over the bytes, neither copied nor `out` cleared first, for
    /// writers handed more than a segment at once.
    ///
    /// # Errors
    /// As for [`StreamSealer::seal_segment`]; `StreamMisuse` unless `plaintext` is exactly
    /// the segment size and `out` 16 bytes longer.
    pub fn seal_full_segment_into(
        &mut self,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        let size = self.segment_size();
        if self.finished {
            return Err(CryptoError::StreamMisuse("a segment after the last one"));
        }
        if plaintext.len() != size || out.len() != size + TAG_LEN {
            return Err(CryptoError::StreamMisuse(
                "a full segment and an output of a segment and a tag",
            ));
        }
        let nonce = segment_nonce(self.next_index, false)?;
        let (body, tag_out) = out.split_at_mut(size);
        let inout = InOutBuf::new(plaintext, body)
            .map_err(|_| CryptoError::StreamMisuse("segment buffers differ in length"))?;
        let tag = self
            .cipher
            .encrypt_inout_detached((&nonce).into(), &self.aad, inout)
            .map_err(|_| CryptoError::StreamMisuse("segment too large"))?;
        tag_out.copy_from_slice(&tag);
        self.next_index += 1;
        Ok(())
    }
}

impl fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSealer")
            .field("segment_size", &self.segment_size)
            .field("next_index", &self.next_index)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Opens the segments of one stream, in any order (each knows its index); made by
/// [`DataKey::stream_opener`].
pub struct StreamOpener {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    segment_size: u32,
    header_len: usize,
}

impl StreamOpener {
    /// Plaintext bytes per segment.
    #[must_use]
    pub fn segment_size(&self) -> usize {
        self.segment_size as usize
    }

    /// Length of the stream's header (where segment 0 starts).
    #[must_use]
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Opens segment `index` in place: `buf` holds its ciphertext and tag and receives its
    /// plaintext. `last` says whether the reader found it at the end of the stream.
    ///
    /// # Errors
    /// [`CryptoError::StreamAuthenticationFailed`] when the tag does not verify (modified,
    /// moved, or a last flag that does not match: truncated or extended) or the segment is
    /// longer than the segment size allows; `buf` is then cleared, never left holding
    /// unauthenticated plaintext.
    pub fn open_segment(
        &self,
        index: u64,
        last: bool,
        buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        match self.open_segment_in_place(index, last, buf) {
            Ok(len) => {
                buf.truncate(len);
                Ok(())
            }
            Err(e) => {
                buf.clear();
                Err(e)
            }
        }
    }

    /// [`StreamOpener::open_segment`] on a slice holding exactly the segment's ciphertext
    /// and tag; returns the plaintext length (the plaintext is `buf[..len]`). For readers
    /// that keep bytes of the next segment in the same buffer.
    ///
    /// # Errors
    /// As for [`StreamOpener::open_segment`]; `buf` is then zeroed.
    pub fn open_segment_in_place(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let result = self.open_slice(index, last, buf);
        if result.is_err() {
            zeroize::Zeroize::zeroize(buf);
        }
        result
    }

    fn open_slice(&self, index: u64, last: bool, buf: &mut [u8]) -> Result<usize, CryptoError> {
        let body_len = buf
            .len()
            .checked_sub(TAG_LEN)
            .filter(|&n| n <= self.segment_size())
            .ok_or(CryptoError::StreamAuthenticationFailed)?;
        let nonce =
            segment_nonce(index, last).map_err(|_| CryptoError::StreamAuthenticationFailed)?;
        let (body, tag) = buf.split_at_mut(body_len);
        let tag: [u8; TAG_LEN] = (&*tag)
            .try_into()
            .map_err(|_| CryptoError::StreamAuthenticationFailed)?;
        let tag: &Array<u8, _> = (&tag).into();
        self.cipher
            .decrypt_inout_detached((&nonce).into(), &self.aad, body.into(), tag)
            .map_err(|_| CryptoError::StreamAuthenticationFailed)?;
        Ok(body_len)
    }
}

impl fmt::Debug for StreamOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOpener")
            .field("segment_size", &self.segment_size)
            .field("header_len", &self.header_len)
            .finish_non_exhaustive()
    }
}

/// Segment `index`'s nonce: seven zero bytes, the index (u32 big-endian), the last flag.
fn segment_nonce(index: u64, last: bool) -> Result<[u8; NONCE_LEN], CryptoError> {
    let index = u32::try_from(index)
        .map_err(|_| CryptoError::StreamMisuse("a stream holds at most 2^32 segments"))?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce[7..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Ok(nonce)
}

/// Every segment's AAD: `bound_prefix || salt || S || associated_data`.
fn segment_aad(bound_prefix: &[u8], salt: &[u8], segment_size: u32, ad: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(bound_prefix.len() + salt.len() + 4 + ad.len());
    aad.extend_from_slice(bound_prefix);
    aad.extend_from_slice(salt);
    aad.extend_from_slice(&segment_size.to_be_bytes());
    aad.extend_from_slice(ad);
    aad
}

impl DataKey {
    /// Starts a stream: returns its header (write it first) and the sealer of its segments,
    /// under a fresh random salt.
    ///
    /// # Errors
    /// [`CryptoError::Format`] with `InvalidSegmentSize` outside `256..=1048576`.
    ///
    /// # Panics
    /// Only if the OS random number generator fails.
    pub fn stream_sealer(
        &self,
        segment_size: u32,
        associated_data: &[u8],
    ) -> Result<(Vec<u8>, StreamSealer), CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        rng::fill(&mut salt);
        self.stream_sealer_with_salt(salt, segment_size, associated_data)
    }

    /// [`DataKey::stream_sealer`] with a caller-given salt, for test vectors only.
    ///
    /// # Errors
    /// As for [`DataKey::stream_sealer`].
    #[doc(hidden)]
    pub fn stream_sealer_with_salt(
        &self,
        salt: [u8; SALT_LEN],
        segment_size: u32,
        associated_data: &[u8],
    ) -> Result<(Vec<u8>, StreamSealer), CryptoError> {
        validate_segment_size(segment_size)?;
        let name_len = self.key_name().len();
        let mut header = Vec::with_capacity(stream_header_len(name_len));
        super::format::write_prefix(
            &mut header,
            Kind::StreamCiphertext,
            self.key_name(),
            self.key_version(),
        )?;
        header.extend_from_slice(self.wrapped_key());
        header.extend_from_slice(&salt);
        header.extend_from_slice(&segment_size.to_be_bytes());
        let bound = header
            .get(..FIXED_PREFIX_LEN + name_len)
            .ok_or(CryptoError::StreamMisuse("header"))?;
        let sealer = StreamSealer {
            cipher: self.derived_cipher(STREAM_KEY_LABEL, &salt),
            aad: segment_aad(bound, &salt, segment_size, associated_data),
            segment_size,
            next_index: 0,
            finished: false,
        };
        Ok((header, sealer))
    }

    /// The opener of a stream whose header embeds exactly this data key's wrapped key.
    ///
    /// # Errors
    /// [`CryptoError::StreamAuthenticationFailed`] for another key name or wrapped key
    /// (callers look data keys up by the header's wrapped key, as for envelope values).
    pub fn stream_opener(
        &self,
        header: &StreamHeader<'_>,
        associated_data: &[u8],
    ) -> Result<StreamOpener, CryptoError> {
        if header.key_name() != self.key_name() || header.wrapped_key() != self.wrapped_key() {
            return Err(CryptoError::StreamAuthenticationFailed);
        }
        Ok(StreamOpener {
            cipher: self.derived_cipher(STREAM_KEY_LABEL, header.salt),
            aad: segment_aad(
                header.bound_prefix,
                header.salt,
                header.segment_size,
                associated_data,
            ),
            segment_size: header.segment_size,
            header_len: header.len(),
        })
    }

    /// Seals a whole payload held in memory as one stream ciphertext (for values small
    /// enough to hold, tests and vectors; large payloads go through a sealer segment by
    /// segment).
    ///
    /// # Errors
    /// As for [`DataKey::stream_sealer`].
    pub fn seal_stream(
        &self,
        plaintext: &[u8],
        segment_size: u32,
        associated_data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        rng::fill(&mut salt);
        self.seal_stream_with_salt(salt, plaintext, segment_size, associated_data)
    }

    /// [`DataKey::seal_stream`] with a caller-given salt, for test vectors only.
    ///
    /// # Errors
    /// As for [`DataKey::stream_sealer`].
    #[doc(hidden)]
    pub fn seal_stream_with_salt(
        &self,
        salt: [u8; SALT_LEN],
        plaintext: &[u8],
        segment_size: u32,
        associated_data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (mut out, mut sealer) =
            self.stream_sealer_with_salt(salt, segment_size, associated_data)?;
        let size = sealer.segment_size();
        let mut chunks = plaintext.chunks(size).peekable();
        let mut buf = Zeroizing::new(Vec::with_capacity(size + TAG_LEN));
        if chunks.peek().is_none() {
            sealer.seal_segment(&mut buf, true)?;
            out.extend_from_slice(&buf);
        }
        while let Some(chunk) = chunks.next() {
            buf.clear();
            buf.extend_from_slice(chunk);
            sealer.seal_segment(&mut buf, chunks.peek().is_none())?;
            out.extend_from_slice(&buf);
        }
        Ok(out)
    }

    /// Opens a whole stream ciphertext held in memory.
    ///
    /// # Errors
    /// [`CryptoError::Format`] for a malformed header;
    /// [`CryptoError::StreamAuthenticationFailed`] for another data key, any modified,
    /// moved, missing or extra segment, or other associated data.
    pub fn open_stream(
        &self,
        value: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let header = StreamHeader::parse(value)?;
        let opener = self.stream_opener(&header, associated_data)?;
        let layout = StreamLayout::new(&header, value.len() as u64)?;
        let mut plaintext = Zeroizing::new(Vec::with_capacity(layout.plaintext_len() as usize));
        let mut buf = Zeroizing::new(Vec::with_capacity(opener.segment_size() + TAG_LEN));
        for index in 0..layout.segment_count() {
            let (range, last) = layout
                .segment(index)
                .ok_or(CryptoError::StreamAuthenticationFailed)?;
            let bytes = value
                .get(range.start as usize..range.end as usize)
                .ok_or(CryptoError::StreamAuthenticationFailed)?;
            buf.clear();
            buf.extend_from_slice(bytes);
            opener.open_segment(index, last, &mut buf)?;
            plaintext.extend_from_slice(&buf);
        }
        Ok(plaintext)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
