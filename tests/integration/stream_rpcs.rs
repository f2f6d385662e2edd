//! EncryptStream and DecryptStream against the real server: the bytes are the clients' stream
//! format (a server-made stream opens in the Rust client and a client-made one through
//! DecryptStream), errors carry the documented codes, a tampered stream fails at its end,
//! and a 200 MiB stream goes through both rpcs at once.

use std::time::Duration;

use rekey::proto::{DecryptStreamRequest, EncryptStreamRequest};
use rekey_client::{CachePolicy, StreamOptions};
use tokio_stream::StreamExt as _;
use tonic::Code;

use crate::client::{client_with, Recorder, KEY};
use crate::on_every_backend;
use crate::support::{Backend, Clients, TestEnv};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 241) as u8).collect()
}

fn encrypt_requests(
    key: &str,
    aad: &[u8],
    segment_size: u32,
    plaintext: &[u8],
    chunk: usize,
) -> Vec<EncryptStreamRequest> {
    let mut requests = vec![EncryptStreamRequest {
        key_name: key.into(),
        associated_data: aad.to_vec(),
        segment_size,
        chunk: Vec::new(),
    }];
    requests.extend(plaintext.chunks(chunk).map(|c| EncryptStreamRequest {
        chunk: c.to_vec(),
        ..Default::default()
    }));
    requests
}

/// EncryptStream of `requests`: the ciphertext, or the status the call ended with.
async fn encrypt(
    s: &Clients,
    requests: Vec<EncryptStreamRequest>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut answers = s
        .client
        .clone()
        .encrypt_stream(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(answer) = answers.next().await {
        out.extend_from_slice(&answer?.chunk);
    }
    Ok(out)
}

/// DecryptStream of `value` in `chunk`-byte pieces: the plaintext it sent before the call
/// ended, and how it ended.
async fn decrypt(
    s: &Clients,
    value: &[u8],
    aad: &[u8],
    chunk: usize,
) -> (Vec<u8>, Result<(), tonic::Status>) {
    let mut requests: Vec<DecryptStreamRequest> = value
        .chunks(chunk)
        .map(|c| DecryptStreamRequest {
            associated_data: Vec::new(),
            chunk: c.to_vec(),
        })
        .collect();
    if requests.is_empty() {
        requests.push(DecryptStreamRequest::default());
    }
    requests[0].associated_data = aad.to_vec();
    let mut out = Vec::new();
    let mut answers = match s
        .client
        .clone()
        .decrypt_stream(tokio_stream::iter(requests))
        .await
    {
        Ok(answers) => answers.into_inner(),
        Err(status) => return (out, Err(status)),
    };
    while let Some(answer) = answers.next().await {
        match answer {
            Ok(a) => out.extend_from_slice(&a.chunk),
            Err(status) => return (out, Err(status)),
        }
    }
    (out, Ok(()))
}

async fn server_and_client_streams_are_the_same_format(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let client = client_with(&s, &env.admin_token(), &Recorder::default()).await;
    let cipher = client
        .envelope(KEY, CachePolicy::new(Duration::from_secs(60)))
        .unwrap();
    for (len, segment, chunk) in [(0, 0, 1), (1, 256, 1), (1000, 256, 7), (200_000, 0, 4096)] {
        let plaintext = pattern(len);
        // Server-made, opened by the client and by DecryptStream.
        let value = encrypt(&s, encrypt_requests(KEY, b"f", segment, &plaintext, chunk))
            .await
            .expect("EncryptStream");
        let mut opened = Vec::new();
        cipher
            .decrypt_stream(&value[..], &mut opened, b"f")
            .await
            .expect("the client opens a server-made stream");
        assert_eq!(opened, plaintext, "len {len}");
        let (through_server, end) = decrypt(&s, &value, b"f", 333).await;
        end.expect("DecryptStream");
        assert_eq!(through_server, plaintext, "len {len}");
        // Client-made, opened by DecryptStream; and the whole value by Decrypt.
        let mut local = Vec::new();
        cipher
            .encrypt_stream(
                &mut &plaintext[..],
                &mut local,
                b"f",
                StreamOptions::default(),
            )
            .await
            .unwrap();
        let (through_server, end) = decrypt(&s, &local, b"f", 4096).await;
        end.expect("DecryptStream of a client-made stream");
        assert_eq!(through_server, plaintext, "len {len}");
    }
    s.stop().await;
    env.finish().await;
}

async fn stream_rpc_errors_have_their_codes(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let err = encrypt(&s, encrypt_requests("NO_SUCH_KEY", b"", 0, b"abc", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = encrypt(&s, encrypt_requests(KEY, b"", 100, b"abc", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("segment size"), "{err:?}");
    let err = encrypt(&s, Vec::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = encrypt(&s, encrypt_requests("API_SIGNATURE", b"", 0, b"abc", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    let plaintext = pattern(1000);
    let value = encrypt(&s, encrypt_requests(KEY, b"f", 256, &plaintext, 100))
        .await
        .unwrap();
    // The last segment (1000 = 3 * 256 + 232) dropped: the first three segments' plaintext
    // arrives, then the call fails at the end with failed authentication.
    let cut = &value[..value.len() - (232 + 16)];
    let (sent, end) = decrypt(&s, cut, b"f", 500).await;
    let err = end.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message()
            .contains("stream ciphertext failed authentication"),
        "{err:?}"
    );
    assert!(sent.len() <= 768 && plaintext.starts_with(&sent));
    let (sent, end) = decrypt(&s, &value, b"other", 500).await;
    assert_eq!(
        (sent.len(), end.unwrap_err().code()),
        (0, Code::InvalidArgument)
    );
    // A header cut short, and an envelope value instead of a stream: malformed.
    for bad in [&value[..50], &b"RK\x01\x03\x05"[..]] {
        let (_, end) = decrypt(&s, bad, b"f", 500).await;
        assert_eq!(end.unwrap_err().code(), Code::InvalidArgument);
    }
    s.stop().await;
    env.finish().await;
}

on_every_backend!(
    server_and_client_streams_are_the_same_format,
    stream_rpc_errors_have_their_codes,
);

/// 200 MiB through EncryptStream and, at the same time, DecryptStream: each side holds a
/// segment, so neither the test nor the server ever holds the stream. The two calls go over
/// two connections: on one, the encrypt call's request bytes waiting for the (deliberately
/// slow) pipeline would use up the connection's HTTP/2 window and stall the decrypt call
/// that drains it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_stream_goes_through_both_rpcs_at_once() {
    const LEN: usize = 200 << 20;
    const CHUNK: usize = 256 << 10;
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let table: Vec<u8> = (0..CHUNK + 251).map(|i| (i % 251) as u8).collect();
    let expected = move |at: usize, n: usize| table[at % 251..at % 251 + n].to_vec();
    let source = {
        let expected = expected.clone();
        let first = EncryptStreamRequest {
            key_name: KEY.into(),
            ..Default::default()
        };
        tokio_stream::iter(std::iter::once(first).chain((0..LEN / CHUNK).map(move |i| {
            EncryptStreamRequest {
                chunk: expected(i * CHUNK, CHUNK),
                ..Default::default()
            }
        })))
    };
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", s.server.grpc_addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let second = Clients::new(&channel, &env.admin_token());
    let mut sealed = second
        .client
        .clone()
        .encrypt_stream(source)
        .await
        .expect("EncryptStream")
        .into_inner();
    let (tx, rx) = tokio::sync::mpsc::channel::<DecryptStreamRequest>(4);
    let pump = tokio::spawn(async move {
        while let Some(answer) = sealed.next().await {
            let chunk = answer.expect("EncryptStream answer").chunk;
            if tx
                .send(DecryptStreamRequest {
                    associated_data: Vec::new(),
                    chunk,
                })
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut opened = s
        .client
        .clone()
        .decrypt_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("DecryptStream")
        .into_inner();
    let mut at = 0;
    while let Some(answer) = opened.next().await {
        let chunk = answer.expect("DecryptStream answer").chunk;
        assert!(chunk == expected(at, chunk.len()), "differs near {at}");
        at += chunk.len();
    }
    pump.await.unwrap();
    assert_eq!(at, LEN);
    s.stop().await;
    env.finish().await;
}
