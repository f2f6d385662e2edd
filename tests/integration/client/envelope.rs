//! Envelope encryption through the client: one GenerateDataKey for many encryptions, single
//! flight on cold caches, limits, rewrapped data keys, tampering. Call counts are the server's.

use std::time::Duration;

use rekey_client::proto::{RewrapRequest, RotateRequest};
use rekey_client::{describe, CacheEvent, CachePolicy, Error, Kind};

use super::{client_with, served, Recorder, KEY};
use crate::on_every_backend;
use crate::support::{Backend, TestEnv};

const HOUR: Duration = Duration::from_secs(3600);

async fn ten_thousand_encryptions_make_one_generate_data_key(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let before = served(&s.server, "GenerateDataKey").await;
    let mut values = Vec::new();
    for i in 0..10_000u32 {
        let value = cipher
            .encrypt(format!("record {i}").as_bytes(), &i.to_be_bytes())
            .await
            .expect("encrypt");
        if i % 1000 == 0 {
            values.push((i, value));
        }
    }
    assert_eq!(served(&s.server, "GenerateDataKey").await - before, 1.0);
    let stats = cipher.stats();
    assert_eq!((stats.encrypt_misses, stats.encrypt_hits), (1, 9_999));
    assert_eq!(recorder.cache_events(CacheEvent::EncryptMiss), 1);
    // Each value opens with its own associated data only, and names its key offline.
    for (i, value) in &values {
        let info = describe(value).unwrap();
        assert_eq!(
            (info.kind, info.key_name.as_str()),
            (Kind::EnvelopeCiphertext, KEY)
        );
        let plain = cipher.decrypt(value, &i.to_be_bytes()).await.unwrap();
        assert_eq!(plain.as_slice(), format!("record {i}").as_bytes());
        let wrong = cipher.decrypt(value, b"another row").await.unwrap_err();
        assert!(
            matches!(wrong, Error::AuthenticationFailed { .. }),
            "{wrong}"
        );
    }
    // This process's own data key was cached for decryption too: no Decrypt call at all.
    assert_eq!(served(&s.server, "Decrypt").await, 0.0);
    s.stop().await;
    env.finish().await;
}

async fn concurrent_cold_encryptions_make_one_call_and_max_messages_renews(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let cipher = client
        .envelope(KEY, CachePolicy::new(HOUR).max_messages(100))
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i: u8| {
            let cipher = cipher.clone();
            tokio::spawn(async move { cipher.encrypt(&[i; 32], b"").await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("encrypt");
    }
    assert_eq!(
        served(&s.server, "GenerateDataKey").await,
        1.0,
        "single flight"
    );
    // 64 used; 36 more fit under max_messages = 100, the 101st needs a new data key.
    for _ in 0..36 {
        cipher.encrypt(b"x", b"").await.unwrap();
    }
    assert_eq!(served(&s.server, "GenerateDataKey").await, 1.0);
    let next = cipher.encrypt(b"x", b"").await.unwrap();
    assert_eq!(served(&s.server, "GenerateDataKey").await, 2.0);
    assert_eq!(cipher.stats().encrypt_misses, 2);
    assert_eq!(cipher.decrypt(&next, b"").await.unwrap().as_slice(), b"x");
    s.stop().await;
    env.finish().await;
}

async fn concurrent_decryptions_under_one_data_key_make_one_decrypt(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let writer = client_with(&s, &env.admin_token(), &recorder).await;
    let sealer = writer.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let mut values = Vec::new();
    for i in 0..32u8 {
        values.push(sealer.encrypt(&[i; 10], &[i]).await.unwrap());
    }
    // Another process (its own cipher, cold caches) reads them all at once.
    let reader = writer.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let tasks: Vec<_> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let reader = reader.clone();
            tokio::spawn(async move { reader.decrypt(&value, &[i as u8]).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let plain = task.await.unwrap().expect("decrypt");
        assert_eq!(plain.as_slice(), &[i as u8; 10]);
    }
    assert_eq!(served(&s.server, "Decrypt").await, 1.0, "single flight");
    let stats = reader.stats();
    assert_eq!((stats.decrypt_misses, stats.decrypt_hits), (1, 31));
    s.stop().await;
    env.finish().await;
}

async fn every_tampered_byte_is_refused(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let value = cipher.encrypt(b"tamper with me", b"row 7").await.unwrap();
    for i in 0..value.len() {
        let mut bad = value.clone();
        bad[i] ^= 0x01;
        match cipher.decrypt(&bad, b"row 7").await {
            Ok(_) => panic!("byte {i} of {} flipped and still decrypted", value.len()),
            Err(
                Error::AuthenticationFailed { .. }
                | Error::InvalidCiphertext { .. }
                | Error::KeyNotFound { .. },
            ) => {}
            Err(other) => panic!("byte {i}: unexpected error {other:?}"),
        }
    }
    // Truncations too (cut inside the payload, a value still parses and then fails
    // authentication), and the original still opens.
    for len in [0, 1, 5, value.len() / 2, value.len() - 1] {
        let err = cipher.decrypt(&value[..len], b"row 7").await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidCiphertext { .. } | Error::AuthenticationFailed { .. }
            ),
            "{len}: {err}"
        );
    }
    assert_eq!(
        cipher.decrypt(&value, b"row 7").await.unwrap().as_slice(),
        b"tamper with me"
    );
    s.stop().await;
    env.finish().await;
}

async fn a_value_of_another_key_is_refused_by_name(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let sessions = client
        .envelope("SESSION_ENCRYPTION", CachePolicy::new(HOUR))
        .unwrap();
    let tokens = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let value = sessions.encrypt(b"s", b"").await.unwrap();
    let err = tokens.decrypt(&value, b"").await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidCiphertext { message } if message.contains("SESSION_ENCRYPTION")),
        "{err}"
    );
    // A server ciphertext is not an envelope value either.
    let server_ct = s.encrypt(KEY, b"p").await.ciphertext;
    let err = tokens.decrypt(&server_ct, b"").await.unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext { .. }), "{err}");
    // A signing key cannot make data keys.
    let signer = client
        .envelope("API_SIGNATURE", CachePolicy::new(HOUR))
        .unwrap();
    let err = signer.encrypt(b"p", b"").await.unwrap_err();
    assert!(matches!(err, Error::FailedPrecondition { .. }), "{err}");
    s.stop().await;
    env.finish().await;
}

/// After a rotation, the server rewraps only the embedded data key (KeyService.Rewrap of the
/// envelope value); the payload is untouched and the value still opens.
async fn a_value_whose_data_key_was_rewrapped_still_decrypts(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let value = cipher.encrypt(b"long-lived record", b"id 1").await.unwrap();
    let v1 = describe(&value).unwrap().key_version;
    let rotated = client
        .rotate(RotateRequest {
            key_name: KEY.into(),
            force: true,
        })
        .await
        .unwrap();
    assert!(rotated.new_version > v1);
    let rewrapped = client
        .rewrap(RewrapRequest {
            ciphertext: value.clone(),
            // The envelope's own associated data is bound by its payload, not by Rewrap.
            associated_data: Vec::new(),
        })
        .await
        .expect("rewrap of an envelope value")
        .ciphertext;
    assert_eq!(
        describe(&rewrapped).unwrap().key_version,
        rotated.new_version
    );
    assert_eq!(rewrapped.len(), value.len());
    assert_eq!(
        &rewrapped[rewrapped.len() - 40..],
        &value[value.len() - 40..],
        "the payload and tag are kept"
    );
    // A cold reader unwraps the new wrapping; the payload still authenticates.
    let reader = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let plain = reader.decrypt(&rewrapped, b"id 1").await.unwrap();
    assert_eq!(plain.as_slice(), b"long-lived record");
    assert!(matches!(
        reader.decrypt(&rewrapped, b"id 2").await.unwrap_err(),
        Error::AuthenticationFailed { .. }
    ));
    s.stop().await;
    env.finish().await;
}

on_every_backend!(
    ten_thousand_encryptions_make_one_generate_data_key,
    concurrent_cold_encryptions_make_one_call_and_max_messages_renews,
    concurrent_decryptions_under_one_data_key_make_one_decrypt,
    every_tampered_byte_is_refused,
    a_value_of_another_key_is_refused_by_name,
    a_value_whose_data_key_was_rewrapped_still_decrypts,
);

/// When the server does not answer, the encryptions (or decryptions) that waited for one
/// failed GenerateDataKey (or Decrypt) get its error: one call fails for all of them, instead
/// of each trying again in turn; the next call after it tries again. The "server" accepts
/// connections and never answers, so the failing call lasts its whole 400 ms attempt timeout
/// and every task is surely waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_share_the_failure_of_the_call_they_waited_for() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;
    let value = client
        .envelope(KEY, CachePolicy::new(HOUR))
        .unwrap()
        .encrypt(b"made while the server was up", b"row=1")
        .await
        .unwrap();
    s.stop().await;

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let down = Recorder::default();
    let client = rekey_client::Client::builder(format!("http://{addr}"))
        .token(env.admin_token())
        .observer(down.shared())
        .retry_policy(rekey_client::RetryPolicy::none())
        .attempt_timeout(Duration::from_millis(400))
        .connect_lazy()
        .unwrap();
    let cipher = client.envelope(KEY, CachePolicy::new(HOUR)).unwrap();
    let encryptions: Vec<_> = (0..16)
        .map(|_| {
            let cipher = cipher.clone();
            tokio::spawn(async move { cipher.encrypt(b"pt", b"ad").await.map(|_| ()) })
        })
        .collect();
    let decryptions: Vec<_> = (0..16)
        .map(|_| {
            let (cipher, value) = (cipher.clone(), value.clone());
            tokio::spawn(async move { cipher.decrypt(&value, b"row=1").await.map(|_| ()) })
        })
        .collect();
    let mut errors = Vec::new();
    for task in encryptions.into_iter().chain(decryptions) {
        errors.push(task.await.unwrap().unwrap_err());
    }
    assert!(errors.iter().all(Error::is_transient), "{errors:?}");
    assert_eq!(down.attempts("GenerateDataKey").len(), 1, "one call for 16");
    assert_eq!(down.attempts("Decrypt").len(), 1, "one call for 16");
    // A later encryption did not wait for that call: it tries again.
    cipher.encrypt(b"pt", b"ad").await.unwrap_err();
    assert_eq!(down.attempts("GenerateDataKey").len(), 2);
    holder.abort();
    env.finish().await;
}
