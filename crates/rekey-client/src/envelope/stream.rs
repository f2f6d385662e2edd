//! Stream ciphertexts (kind 0x04, docs/ciphertext-format.md) through tokio's `AsyncRead` and
//! `AsyncWrite`: files and sockets of any length in constant memory (one segment buffer),
//! with one GenerateDataKey per stream (or none, from the cache) and one Decrypt per data
//! key.
//!
//! The writer buffers one segment of plaintext and seals it only when more data arrives,
//! so it always knows which segment is the last; `shutdown` seals the last one. The reader
//! reads one byte past each segment to know whether it is the last. Either way a segment's
//! plaintext leaves only after its tag verified, and a stream that ends without a last
//! segment is an error, never a clean end.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rekey_envelope::{
    stream_header_len_from_prefix, validate_segment_size, CryptoError, DataKey, StreamHeader,
    StreamLayout, StreamOpener, StreamSealer, DEFAULT_SEGMENT_SIZE, TAG_LEN,
};
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt, ReadBuf,
};
use zeroize::{Zeroize, Zeroizing};

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
        let size = sealer.segment_size();
        Ok(EncryptWriter {
            inner,
            sealer,
            buf: Zeroizing::new(Vec::with_capacity(size + TAG_LEN)),
            direct: vec![0; size + TAG_LEN],
            pending: header,
            pending_at: 0,
            sealed: Sealed::Nothing,
            state: WriterState::Open,
        })
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
        let header = read_header(&mut inner).await?;
        let (opener, _) = self.stream_opener(&header, associated_data).await?;
        let full = opener.segment_size() + TAG_LEN;
        Ok(DecryptReader {
            inner,
            opener,
            buf: Zeroizing::new(vec![0; full + 1]),
            filled: 0,
            plain: 0..0,
            carry: None,
            index: 0,
            inner_done: false,
            finished: false,
        })
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
        let header = read_header(source).await?;
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

/// Reads exactly a stream header: five bytes tell its length.
async fn read_header<R: AsyncRead + Unpin>(inner: &mut R) -> Result<Vec<u8>, Error> {
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
fn crypto(e: CryptoError) -> Error {
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
fn to_io(e: Error) -> io::Error {
    let kind = match &e {
        Error::AuthenticationFailed { .. } | Error::InvalidCiphertext { .. } => {
            io::ErrorKind::InvalidData
        }
        Error::InvalidArgument { .. } => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    Open,
    /// The last segment is sealed; the rest is flushing it out and shutting `inner` down.
    Closing,
    Closed,
}

/// Encrypts what is written to it into a stream ciphertext written to `inner`; made by
/// [`EnvelopeCipher::encrypt_writer`]. Holds one segment of plaintext (wiped on drop).
pub struct EncryptWriter<W> {
    inner: W,
    sealer: StreamSealer,
    /// Plaintext of the current segment, or (after sealing) its ciphertext and tag.
    buf: Zeroizing<Vec<u8>>,
    /// A segment sealed straight from the caller's bytes (ciphertext only, never plaintext),
    /// always a segment and a tag long, so sealing into it needs no clearing.
    direct: Vec<u8>,
    /// The header, before any segment is written.
    pending: Vec<u8>,
    pending_at: usize,
    /// Which buffer holds a sealed segment still to be written.
    sealed: Sealed,
    state: WriterState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sealed {
    Nothing,
    /// `buf` (sealed in place from the buffered plaintext).
    Buffered,
    /// `direct`.
    Direct,
}

impl<W> std::fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("sealer", &self.sealer)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> EncryptWriter<W> {
    /// The writer it encrypts into.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes out the header and any sealed segment.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_at < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pending_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_at += n;
        }
        if self.sealed != Sealed::Nothing {
            // `pending_at` past the header counts bytes of the sealed segment written.
            loop {
                let out: &[u8] = match self.sealed {
                    Sealed::Direct => &self.direct,
                    _ => &self.buf,
                };
                let at = self.pending_at - self.pending.len();
                if at >= out.len() {
                    break;
                }
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &out[at..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.pending_at += n;
            }
            self.pending_at = self.pending.len();
            if self.sealed == Sealed::Buffered {
                self.buf.clear();
            }
            self.sealed = Sealed::Nothing;
        }
        Poll::Ready(Ok(()))
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        self.sealer
            .seal_segment(&mut self.buf, last)
            .map_err(|e| to_io(crypto(e)))?;
        self.sealed = Sealed::Buffered;
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for EncryptWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.state != WriterState::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown: the stream's last segment is already sealed",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_drain(cx))?;
        let size = this.sealer.segment_size();
        if this.buf.len() == size {
            // A full segment and more data: it is not the last one.
            this.seal(false)?;
            ready!(this.poll_drain(cx))?;
        }
        if this.buf.is_empty() && data.len() > size {
            // A whole segment with more after it in the caller's own bytes: seal it straight
            // from them (one pass, no copy into the segment buffer first).
            this.sealer
                .seal_full_segment_into(&data[..size], &mut this.direct)
                .map_err(|e| to_io(crypto(e)))?;
            this.sealed = Sealed::Direct;
            return Poll::Ready(Ok(size));
        }
        let n = (size - this.buf.len()).min(data.len());
        this.buf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    /// Writes out what is sealed and flushes `inner`. The segment being filled stays
    /// buffered: it can only be sealed once the writer knows whether it is the last.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state == WriterState::Open {
            ready!(this.poll_drain(cx))?;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    /// Seals the last segment, writes it out and shuts `inner` down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state == WriterState::Open {
            ready!(this.poll_drain(cx))?;
            this.seal(true)?;
            this.state = WriterState::Closing;
        }
        if this.state == WriterState::Closing {
            ready!(this.poll_drain(cx))?;
            this.state = WriterState::Closed;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Reads the plaintext of a stream ciphertext read from `inner`; made by
/// [`EnvelopeCipher::decrypt_reader`]. Holds one segment (wiped on drop).
pub struct DecryptReader<R> {
    inner: R,
    opener: StreamOpener,
    /// One segment and one byte more: the byte that says the segment is not the last.
    buf: Zeroizing<Vec<u8>>,
    filled: usize,
    /// Plaintext in `buf` not yet returned.
    plain: Range<usize>,
    /// The byte of the next segment read past the current one.
    carry: Option<u8>,
    index: u64,
    inner_done: bool,
    finished: bool,
}

impl<R> std::fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptReader")
            .field("opener", &self.opener)
            .field("segment", &self.index)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> DecryptReader<R> {
    /// Reads until `buf` holds a segment and one byte more, or the input ends.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.inner_done && self.filled < self.buf.len() {
            let mut read = ReadBuf::new(&mut self.buf[self.filled..]);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            if n == 0 {
                self.inner_done = true;
            }
            self.filled += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Opens the segment at the front of `buf`.
    fn open_next(&mut self) -> io::Result<()> {
        let full = self.buf.len() - 1;
        let last = self.filled <= full;
        let seg_len = self.filled.min(full);
        let segment = &mut self.buf[..seg_len];
        let len = self
            .opener
            .open_segment_in_place(self.index, last, segment)
            .map_err(|e| {
                self.finished = true;
                to_io(crypto(e))
            })?;
        self.carry = if last { None } else { Some(self.buf[full]) };
        self.plain = 0..len;
        self.index += 1;
        self.finished = last;
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for DecryptReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.plain.is_empty() {
                let n = this.plain.len().min(out.remaining());
                let from = this.plain.start;
                out.put_slice(&this.buf[from..from + n]);
                this.plain.start += n;
                if this.plain.is_empty() {
                    // Wipe the returned plaintext and start the next segment with the byte
                    // read past this one.
                    this.buf[..from + n].zeroize();
                    this.filled = 0;
                    if let Some(byte) = this.carry.take() {
                        this.buf[0] = byte;
                        this.filled = 1;
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if this.finished {
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_fill(cx))?;
            this.open_next()?;
            if this.plain.is_empty() && !this.finished {
                // Only a last segment may be empty; `open_next` would have refused others.
                continue;
            }
        }
    }
}
