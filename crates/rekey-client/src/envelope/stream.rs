//! Stream ciphertexts (kind 0x04, docs/ciphertext-format.md) through tokio's `AsyncRead` and
//! `AsyncWrite`: files and sockets of any length in constant memory (one segment buffer),
//! with one GenerateDataKey per stream (or none, from the cache) and one Decrypt per data
//! key.
//!
//! This file: the `EnvelopeCipher` methods (start a writer or reader, whole-stream copies,
//! byte ranges) and the error mapping; `stream_io.rs`: the writer and reader themselves.

use std::io;
use std::ops::Range;

use rekey_envelope::{
    stream_header_len_from_prefix, validate_segment_size, CryptoError, DataKey, StreamHeader,
    StreamLayout, StreamOpener, DEFAULT_SEGMENT_SIZE, TAG_LEN,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use super::stream_io::{DecryptReader, EncryptWriter};
use super::EnvelopeCipher;
use crate::error::Error;

/// How a stream is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    segment_size: u32,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

impl StreamOptions {
    /// Plaintext bytes per segment, 256 to 1 MiB (default 64 KiB): larger segments cost
    /// less per byte, smaller ones make byte-range reads cheaper and hold less memory.
    #[must_use]
    pub fn segment_size(mut self, bytes: u32) -> Self {
        self.segment_size = bytes;
        self
    }
}

impl EnvelopeCipher {
    /// Starts encrypting a stream into `inner`: write plaintext to the returned writer and
    /// call `shutdown` (tokio's `AsyncWriteExt::shutdown`) to seal the last segment. A writer
    /// dropped without `shutdown` leaves a truncated stream that every reader refuses.
    ///
    /// The data key comes from this cipher's cache like one message of 0 bytes (the stream's
    /// length is not known yet); the stream's segments are sealed under a key derived from
    /// a fresh salt, so its length consumes none of the data key's limits.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a segment size outside 256..=1048576; the error of
    /// GenerateDataKey.
    pub async fn encrypt_writer<W: AsyncWrite + Unpin>(
        &self,
        inner: W,
        associated_data: &[u8],
        options: StreamOptions,
    ) -> Result<EncryptWriter<W>, Error> {
        validate_segment_size(options.segment_size).map_err(|e| Error::InvalidArgument {
            message: e.to_string(),
        })?;
        let key = self.encrypt_key(0).await?;
        let (header, sealer) = key
            .stream_sealer(options.segment_size, associated_data)
            .map_err(|e| Error::InvalidArgument {
                message: e.to_string(),
            })?;
        Ok(EncryptWriter::new(inner, header, sealer))
    }

    /// Starts decrypting the stream `inner`: reads and checks its header, unwraps its data
    /// key (through the cache), and returns a reader of the plaintext. Read it to the end:
    /// only a read that returns end-of-stream proves the stream was complete.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] when the input is not a stream ciphertext of this
    /// cipher's key (or ends inside its header); the error of Decrypt; [`Error::Io`] when
    /// reading `inner` fails.
    pub async fn decrypt_reader<R: AsyncRead + Unpin>(
        &self,
        mut inner: R,
        associated_data: &[u8],
    ) -> Result<DecryptReader<R>, Error> {
        let header = read_stream_header(&mut inner).await?;
        let (opener, _) = self.stream_opener(&header, associated_data).await?;
        Ok(DecryptReader::new(inner, opener))
    }

    /// Encrypts all of `reader` into `writer` as one stream and shuts `writer` down;
    /// returns the plaintext bytes read.
    ///
    /// # Errors
    /// As for [`EnvelopeCipher::encrypt_writer`]; [`Error::Io`] when reading or writing fails.
    pub async fn encrypt_stream<R, W>(
        &self,
        reader: &mut R,
        writer: W,
        associated_data: &[u8],
        options: StreamOptions,
    ) -> Result<u64, Error>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut sealed = self
            .encrypt_writer(writer, associated_data, options)
            .await?;
        let n = tokio::io::copy(reader, &mut sealed)
            .await
            .map_err(from_io)?;
        sealed.shutdown().await.map_err(from_io)?;
        Ok(n)
    }

    /// Decrypts the stream `reader` into `writer` (flushed at the end); returns the
    /// plaintext bytes written. On an error, `writer` may already hold the plaintext of the
    /// segments before the failure: discard it (e.g. write to a temporary file and rename
    /// it only on success).
    ///
    /// # Errors
    /// As for [`EnvelopeCipher::decrypt_reader`]; [`Error::AuthenticationFailed`] for a
    /// modified, reordered, truncated or extended stream or other associated data.
    pub async fn decrypt_stream<R, W>(
        &self,
        reader: R,
        writer: &mut W,
        associated_data: &[u8],
    ) -> Result<u64, Error>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut plain = self.decrypt_reader(reader, associated_data).await?;
        let n = tokio::io::copy(&mut plain, writer).await.map_err(from_io)?;
        writer.flush().await.map_err(from_io)?;
        Ok(n)
    }

    /// Decrypts plaintext bytes `range` of a stored stream, reading only its header and the
    /// segments that hold the range. Authenticates those segments (and the last flag when
    /// the range reaches the end), not the rest of the stream.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a range outside the plaintext; otherwise as for
    /// [`EnvelopeCipher::decrypt_reader`].
    pub async fn decrypt_range<R>(
        &self,
        source: &mut R,
        range: Range<u64>,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>
    where
        R: AsyncRead + AsyncSeek + Unpin,
    {
        let total = source.seek(io::SeekFrom::End(0)).await.map_err(from_io)?;
        source.seek(io::SeekFrom::Start(0)).await.map_err(from_io)?;
        let header = read_stream_header(source).await?;
        let parsed = StreamHeader::parse(&header).map_err(invalid)?;
        let layout = StreamLayout::new(&parsed, total).map_err(crypto)?;
        let segments = layout.segments_for(range.clone()).map_err(crypto)?;
        let (opener, _) = self.stream_opener(&header, associated_data).await?;
        let mut out = Zeroizing::new(Vec::with_capacity((range.end - range.start) as usize));
        let mut buf = Zeroizing::new(Vec::with_capacity(opener.segment_size() + TAG_LEN));
        for index in segments {
            let (bytes, last) = layout.segment(index).ok_or_else(crypto_auth)?;
            source
                .seek(io::SeekFrom::Start(bytes.start))
                .await
                .map_err(from_io)?;
            buf.resize((bytes.end - bytes.start) as usize, 0);
            source.read_exact(&mut buf).await.map_err(from_io)?;
            opener.open_segment(index, last, &mut buf).map_err(crypto)?;
            let offset = layout.plaintext_offset(index);
            let from = range.start.saturating_sub(offset) as usize;
            let to = ((range.end - offset) as usize).min(buf.len());
            out.extend_from_slice(&buf[from..to]);
        }
        Ok(out)
    }

    /// The opener of a stream whose header is `header` (all its bytes), its data key
    /// unwrapped through the decrypt cache exactly like an envelope value's.
    async fn stream_opener(
        &self,
        header: &[u8],
        associated_data: &[u8],
    ) -> Result<(StreamOpener, std::sync::Arc<DataKey>), Error> {
        let parsed = StreamHeader::parse(header).map_err(invalid)?;
        self.check_key_name(parsed.key_name())?;
        let key = self
            .decrypt_key(parsed.key_name(), parsed.wrapped_key())
            .await?;
        let opener = key
            .stream_opener(&parsed, associated_data)
            .map_err(crypto)?;
        Ok((opener, key))
    }
}

/// Reads exactly the header of the stream ciphertext `inner` (its first five bytes tell how
/// long it is) and checks it, leaving `inner` at the first segment; e.g. to learn the key a
/// stream names before choosing the cipher to open it with.
///
/// # Errors
/// [`Error::InvalidCiphertext`] when the input is not a stream ciphertext or ends inside its
/// header; [`Error::Io`] when reading fails.
pub async fn read_stream_header<R: AsyncRead + Unpin>(inner: &mut R) -> Result<Vec<u8>, Error> {
    let mut header = vec![0u8; 5];
    let got = read_up_to(inner, &mut header).await?;
    let len = stream_header_len_from_prefix(&header[..got]).map_err(invalid)?;
    header.resize(len, 0);
    let got = 5 + read_up_to(inner, &mut header[5..]).await?;
    if got < len {
        header.truncate(got);
    }
    // Parse now so a short or malformed header is reported before any call to the server.
    StreamHeader::parse(&header).map_err(invalid)?;
    Ok(header)
}

/// Fills `buf` unless the input ends first; returns the bytes read.
async fn read_up_to<R: AsyncRead + Unpin>(inner: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    let mut at = 0;
    while at < buf.len() {
        let n = inner.read(&mut buf[at..]).await.map_err(from_io)?;
        if n == 0 {
            break;
        }
        at += n;
    }
    Ok(at)
}

fn invalid(e: rekey_envelope::FormatError) -> Error {
    Error::InvalidCiphertext {
        message: e.to_string(),
    }
}

fn crypto_auth() -> Error {
    crypto(CryptoError::StreamAuthenticationFailed)
}

/// A stream's crypto error as the client's error.
pub(super) fn crypto(e: CryptoError) -> Error {
    match e {
        CryptoError::Format(f) => invalid(f),
        CryptoError::StreamAuthenticationFailed | CryptoError::AuthenticationFailed => {
            Error::AuthenticationFailed {
                message: CryptoError::StreamAuthenticationFailed.to_string(),
            }
        }
        CryptoError::RangeOutOfBounds { .. } => Error::InvalidArgument {
            message: e.to_string(),
        },
        other => Error::Internal {
            message: other.to_string(),
        },
    }
}

/// An I/O error back as the client's error: the one the adapters wrapped, or the caller's
/// stream's own.
fn from_io(e: io::Error) -> Error {
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Io {
                kind,
                message: other.to_string(),
            },
        },
        None => Error::Io {
            kind,
            message: kind.to_string(),
        },
    }
}

/// The client's error inside an `io::Error`, for the `AsyncRead`/`AsyncWrite` adapters
/// (`Error::from_io_error` or `into_inner` + `downcast` recovers it).
pub(super) fn to_io(e: Error) -> io::Error {
    let kind = match &e {
        Error::AuthenticationFailed { .. } | Error::InvalidCiphertext { .. } => {
            io::ErrorKind::InvalidData
        }
        Error::InvalidArgument { .. } => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}
