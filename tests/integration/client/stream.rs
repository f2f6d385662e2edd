//! Stream ciphertexts through the Rust client against the real server: round trips of every
//! shape, one data key per stream from the cache, every tampering refused with
//! AuthenticationFailed, byte ranges that read only their segments, a 200 MiB stream through
//! a pipe, and the server's own Decrypt and Rewrap of a client-made stream.

use std::io::Cursor;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rekey_client::{describe, CachePolicy, Error, Kind, StreamOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncWriteExt, ReadBuf};

use super::{client_with, served, Recorder, KEY};
use crate::on_every_backend;
use crate::support::{Backend, TestEnv};

const HOUR: Duration = Duration::from_secs(3600);

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 253) as u8).collect()
}

fn small() -> StreamOptions {
    StreamOptions::default().segment_size(256)
}

async fn streams_of_every_shape_round_trip_on_one_data_key(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let mut streams = Vec::new();
    for (len, options) in [
        (0, small()),
        (1, small()),
        (256, small()),
        (257, small()),
        (1000, small()),
        (300_000, StreamOptions::default()),
    ] {
        let plaintext = pattern(len);
        let mut sealed = Vec::new();
        let n = cipher
            .encrypt_stream(&mut &plaintext[..], &mut sealed, b"file=a", options)
            .await
            .expect("encrypts");
        assert_eq!(n, len as u64);
        assert_eq!(describe(&sealed).unwrap().kind, Kind::StreamCiphertext);
        let mut opened = Vec::new();
        let n = cipher
            .decrypt_stream(&sealed[..], &mut opened, b"file=a")
            .await
            .expect("decrypts");
        assert_eq!((n, opened == plaintext), (len as u64, true), "len {len}");
        streams.push((sealed, plaintext));
    }
    // One GenerateDataKey for all six streams; this process's own key needs no Decrypt.
    assert_eq!(served(&s.server, "GenerateDataKey").await, 1.0);
    assert_eq!(served(&s.server, "Decrypt").await, 0.0);
    // Another process (a fresh cipher) unwraps the key once for every stream.
    let other = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    for (sealed, plaintext) in &streams {
        let mut reader = other.decrypt_reader(&sealed[..], b"file=a").await.unwrap();
        let mut opened = Vec::new();
        reader.read_to_end(&mut opened).await.unwrap();
        assert_eq!(&opened, plaintext);
    }
    assert_eq!(served(&s.server, "Decrypt").await, 1.0);
    // The server's Decrypt opens a stream held whole, and Rewrap moves its header only.
    let (sealed, plaintext) = &streams[4];
    let whole = client
        .decrypt(rekey_client::proto::DecryptRequest {
            ciphertext: sealed.clone(),
            associated_data: b"file=a".to_vec(),
            key_name: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(&whole.plaintext, plaintext);
    s.stop().await;
    env.finish().await;
}

/// The 600-byte stream in 256-byte segments: header, then segments of 272, 272 and 104.
async fn three_segments(cipher: &rekey_client::EnvelopeCipher) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut sealed = Vec::new();
    cipher
        .encrypt_stream(&mut &pattern(600)[..], &mut sealed, b"ad", small())
        .await
        .unwrap();
    let h = sealed.len() - 600 - 3 * 16;
    let segs = vec![(h, h + 272), (h + 272, h + 544), (h + 544, sealed.len())];
    (sealed, segs)
}

async fn every_tampering_is_refused_and_no_plaintext_of_it_leaves(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let client = client_with(&s, &env.admin_token(), &Recorder::default()).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let (sealed, segs) = three_segments(&cipher).await;
    let h = segs[0].0;
    let build = |order: &[usize]| {
        let mut out = sealed[..h].to_vec();
        for &i in order {
            out.extend_from_slice(&sealed[segs[i].0..segs[i].1]);
        }
        out
    };
    let mut flipped = sealed.clone();
    flipped[segs[1].0 + 3] ^= 1;
    let cases = [
        ("truncated at a segment boundary", build(&[0, 1])),
        ("header only", build(&[])),
        (
            "truncated inside the last segment",
            sealed[..sealed.len() - 30].to_vec(),
        ),
        ("reordered", build(&[1, 0, 2])),
        ("duplicated", build(&[0, 0, 1, 2])),
        ("dropped", build(&[0, 2])),
        ("appended", build(&[0, 1, 2, 2])),
        ("one byte appended", [&sealed[..], b"x"].concat()),
        ("a byte flipped", flipped),
    ];
    for (what, tampered) in cases {
        let mut out = Vec::new();
        let err = cipher
            .decrypt_stream(&tampered[..], &mut out, b"ad")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::AuthenticationFailed { message } if message.contains("stream")),
            "{what}: {err}"
        );
        // Never more than the segments before the damage, each authenticated.
        assert!(out.len() <= 512 && pattern(600).starts_with(&out), "{what}");
        // Through the AsyncRead face the error is an io::Error carrying the same error.
        let mut reader = cipher.decrypt_reader(&tampered[..], b"ad").await.unwrap();
        let io = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData, "{what}");
        let inner = io.into_inner().unwrap().downcast::<Error>().unwrap();
        assert!(
            matches!(*inner, Error::AuthenticationFailed { .. }),
            "{what}"
        );
    }
    let err = cipher
        .decrypt_stream(&sealed[..], &mut Vec::new(), b"other")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err}");
    // Not a stream, another key's stream, a header cut short, a bad segment size.
    let envelope = cipher.encrypt(b"x", b"").await.unwrap();
    for (what, bad) in [
        ("an envelope value", envelope),
        ("a cut header", sealed[..h - 1].to_vec()),
    ] {
        let err = cipher
            .decrypt_stream(&bad[..], &mut Vec::new(), b"")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidCiphertext { .. }),
            "{what}: {err}"
        );
    }
    let other_key = client
        .envelope("FILE_ENCRYPTION", CachePolicy::new(HOUR))
        .unwrap();
    let err = other_key
        .decrypt_stream(&sealed[..], &mut Vec::new(), b"ad")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidCiphertext { message } if message.contains(KEY)),
        "{err}"
    );
    let err = cipher
        .encrypt_writer(Vec::new(), b"", StreamOptions::default().segment_size(100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    s.stop().await;
    env.finish().await;
}

/// A seekable source that counts the bytes read from it.
struct Counting {
    inner: Cursor<Vec<u8>>,
    read: u64,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read += (buf.filled().len() - before) as u64;
        result
    }
}

impl AsyncSeek for Counting {
    fn start_seek(mut self: Pin<&mut Self>, pos: std::io::SeekFrom) -> std::io::Result<()> {
        Pin::new(&mut self.inner).start_seek(pos)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        Pin::new(&mut self.inner).poll_complete(cx)
    }
}

async fn byte_ranges_read_only_their_segments(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let client = client_with(&s, &env.admin_token(), &Recorder::default()).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let plaintext = pattern(10_000);
    let mut sealed = Vec::new();
    cipher
        .encrypt_stream(&mut &plaintext[..], &mut sealed, b"", small())
        .await
        .unwrap();
    let header = sealed.len() - 10_000 - 40 * 16;
    for (range, segments) in [
        (0..1, 1),
        (255..257, 2),
        (256..512, 1),
        (9_999..10_000, 1),
        (1_000..3_000, 9),
        (0..10_000, 40),
        (500..500, 0),
    ] {
        let mut source = Counting {
            inner: Cursor::new(sealed.clone()),
            read: 0,
        };
        let got = cipher
            .decrypt_range(&mut source, range.clone(), b"")
            .await
            .unwrap();
        assert_eq!(
            got.as_slice(),
            &plaintext[range.start as usize..range.end as usize]
        );
        assert!(
            source.read <= (header + segments * 272) as u64,
            "{range:?} read {} bytes",
            source.read
        );
    }
    let mut source = Cursor::new(sealed.clone());
    let err = cipher
        .decrypt_range(&mut source, 9_000..10_001, b"")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    // A range reaching a dropped last segment sees the truncation.
    let mut cut = Cursor::new(sealed[..sealed.len() - (10_000 % 256 + 16)].to_vec());
    let err = cipher
        .decrypt_range(&mut cut, 9_000..9_984, b"")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err}");
    s.stop().await;
    env.finish().await;
}

/// Plaintext produced on the fly: `len` bytes of the pattern, never held whole.
struct Generated {
    at: u64,
    len: u64,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (self.len - self.at)
            .min(buf.remaining() as u64)
            .min(CHUNK as u64) as usize;
        buf.put_slice(expected(self.at, n));
        self.at += n as u64;
        Poll::Ready(Ok(()))
    }
}

const CHUNK: usize = 64 << 10;

/// The generated bytes at `offset..offset + len` (`len` at most CHUNK): byte `i` is
/// `i % 251`, sliced out of a table so the test's own work stays small.
fn expected(offset: u64, len: usize) -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| (0..CHUNK + 251).map(|i| (i % 251) as u8).collect());
    let from = (offset % 251) as usize;
    &table[from..from + len]
}

async fn a_200_mib_stream_goes_through_a_pipe(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let client = client_with(&s, &env.admin_token(), &Recorder::default()).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    const LEN: u64 = 200 << 20;
    // A pipe of 256 KiB: the two sides run at once and neither can hold the stream.
    let (write_end, read_end) = tokio::io::duplex(256 << 10);
    let encrypt = {
        let cipher = cipher.clone();
        tokio::spawn(async move {
            let mut source = Generated { at: 0, len: LEN };
            let mut writer = cipher
                .encrypt_writer(write_end, b"big", StreamOptions::default())
                .await?;
            tokio::io::copy(&mut source, &mut writer)
                .await
                .map_err(|e| Error::Internal {
                    message: e.to_string(),
                })?;
            writer.shutdown().await.map_err(|e| Error::Internal {
                message: e.to_string(),
            })?;
            Ok::<_, Error>(())
        })
    };
    let mut reader = cipher.decrypt_reader(read_end, b"big").await.unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(
            buf[..n] == *expected(at, n),
            "plaintext differs near offset {at}"
        );
        at += n as u64;
    }
    encrypt.await.unwrap().unwrap();
    assert_eq!(at, LEN);
    s.stop().await;
    env.finish().await;
}

on_every_backend!(
    streams_of_every_shape_round_trip_on_one_data_key,
    every_tampering_is_refused_and_no_plaintext_of_it_leaves,
    byte_ranges_read_only_their_segments,
    a_200_mib_stream_goes_through_a_pipe,
);
