//! The crypto of stream ciphertexts (kind 0x04; layout in `stream.rs`): the sealer that
//! seals segments in order, the opener that opens any segment by its index, and the
//! `DataKey` methods that start a stream or open one. Each segment is AES-256-GCM under the
//! stream key `HKDF-Expand(DK, "rekey/v1 stream segment key" || salt, 32)`, with a nonce of
//! seven zero bytes, the segment index and a last-segment flag (the STREAM construction).

use core::fmt;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::AeadInOut;
use zeroize::Zeroizing;

use super::data_key::{DataKey, MessageCipher};
use super::envelope_value::SALT_LEN;
use super::error::CryptoError;
use super::format::{Kind, FIXED_PREFIX_LEN, NONCE_LEN, TAG_LEN};
use super::rng;
use super::stream::{
    stream_header_len, validate_segment_size, StreamHeader, StreamLayout, STREAM_KEY_LABEL,
};

/// Seals the segments of one stream in order; made with the header by
/// [`DataKey::stream_sealer`]. Holds the stream key (wiped on drop with the cipher).
pub struct StreamSealer {
    cipher: MessageCipher,
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
    cipher: MessageCipher,
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
            cipher: self.derived_cipher(STREAM_KEY_LABEL, header.salt()),
            aad: segment_aad(
                header.bound_prefix(),
                header.salt(),
                header.segment_size(),
                associated_data,
            ),
            segment_size: header.segment_size(),
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
