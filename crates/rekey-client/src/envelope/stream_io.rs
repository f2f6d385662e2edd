//! The `AsyncWrite` and `AsyncRead` adapters of stream ciphertexts, made by
//! `EnvelopeCipher::encrypt_writer` and `decrypt_reader` (stream.rs).
//!
//! The writer buffers one segment of plaintext and seals it only when more data arrives,
//! so it always knows which segment is the last; `shutdown` seals the last one. Handed more
//! than a segment at once, it seals whole segments straight from the caller's bytes. The
//! reader reads one byte past each segment to know whether it is the last. Either way a
//! segment's plaintext leaves only after its tag verified, and a stream that ends without a
//! last segment is an error, never a clean end.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rekey_envelope::{StreamOpener, StreamSealer, TAG_LEN};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use zeroize::{Zeroize, Zeroizing};

use super::stream::{crypto, to_io};

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

impl<W> EncryptWriter<W> {
    /// A writer that writes `header` first, then the segments `sealer` seals.
    pub(super) fn new(inner: W, header: Vec<u8>, sealer: StreamSealer) -> Self {
        let size = sealer.segment_size();
        EncryptWriter {
            inner,
            sealer,
            buf: Zeroizing::new(Vec::with_capacity(size + TAG_LEN)),
            direct: vec![0; size + TAG_LEN],
            pending: header,
            pending_at: 0,
            sealed: Sealed::Nothing,
            state: WriterState::Open,
        }
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

impl<R> DecryptReader<R> {
    /// A reader of `inner`'s segments (its header already read) opened by `opener`.
    pub(super) fn new(inner: R, opener: StreamOpener) -> Self {
        let full = opener.segment_size() + TAG_LEN;
        DecryptReader {
            inner,
            opener,
            buf: Zeroizing::new(vec![0; full + 1]),
            filled: 0,
            plain: 0..0,
            carry: None,
            index: 0,
            inner_done: false,
            finished: false,
        }
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
