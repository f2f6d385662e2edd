//! The batch rpcs through the Rust client: a result per item in input order, each failed item
//! with its own typed error (the rest succeed), splitting into calls within the limits, the
//! server's whole-call limits, and per-item metrics. Call counts are the server's (/metrics).

use rekey_client::proto::{
    CreateTokenRequest, DecryptRequest, EncryptBatchRequest, EncryptRequest, RewrapRequest,
    TokenRole,
};
use rekey_client::{Client, Error};

use super::{client_with, served, Recorder, KEY};
use crate::metrics::scrape;
use crate::on_every_backend;
use crate::support::{Backend, TestEnv};

fn encrypt(key: &str, plaintext: &[u8], ad: &[u8]) -> EncryptRequest {
    EncryptRequest {
        key_name: key.into(),
        plaintext: plaintext.to_vec(),
        associated_data: ad.to_vec(),
    }
}

fn decrypt(ciphertext: &[u8], ad: &[u8]) -> DecryptRequest {
    DecryptRequest {
        ciphertext: ciphertext.to_vec(),
        associated_data: ad.to_vec(),
        key_name: String::new(),
    }
}

async fn a_batch_answers_each_item_in_order_with_its_own_error(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let recorder = Recorder::default();
    let admin = client_with(&s, &env.admin_token(), &recorder).await;

    // A value under a version retired before the batches.
    let old = admin.encrypt(encrypt(KEY, b"old", b"")).await.unwrap();
    s.rotate(KEY).await;
    assert!(s
        .server
        .manager()
        .retire_version(KEY, old.key_version, "test")
        .await
        .unwrap());

    // Encrypt: a good item, an unknown key, a malformed name, a signing key, a good item.
    let results = admin
        .encrypt_many(vec![
            encrypt(KEY, b"first", b"row=1"),
            encrypt("NO_SUCH_KEY", b"x", b""),
            encrypt("bad name!", b"x", b""),
            encrypt("API_SIGNATURE", b"x", b""),
            encrypt("SESSION_ENCRYPTION", b"last", b""),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    let first = results[0].as_ref().unwrap().clone();
    assert!(
        matches!(&results[1], Err(Error::KeyNotFound { .. })),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], Err(Error::InvalidArgument { .. })),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(&results[3], Err(Error::FailedPrecondition { .. })),
        "{:?}",
        results[3]
    );
    let last = results[4].as_ref().unwrap().clone();
    let mut tampered = first.ciphertext.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let fresh = admin.encrypt(encrypt(KEY, b"fresh", b"")).await.unwrap();

    // Decrypt with a token scoped to TOKEN_ENCRYPTION only: the SESSION_ENCRYPTION value is
    // out of scope; the others fail on their own account.
    let scoped = admin
        .create_token(CreateTokenRequest {
            name: "token-encryption-only".into(),
            role: TokenRole::Client as i32,
            key_names: vec![KEY.into()],
            operations: Vec::new(),
            expires_at: None,
        })
        .await
        .unwrap();
    let client = client_with(&s, &scoped.token, &recorder).await;
    let results = client
        .decrypt_many(vec![
            decrypt(&first.ciphertext, b"row=1"),
            decrypt(&tampered, b"row=1"),
            decrypt(&first.ciphertext, b"row=2"),
            decrypt(&old.ciphertext, b""),
            decrypt(&last.ciphertext, b""),
            decrypt(b"not a rekey value", b""),
            decrypt(&fresh.ciphertext, b""),
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().plaintext, b"first");
    assert!(
        matches!(&results[1], Err(Error::AuthenticationFailed { .. })),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], Err(Error::AuthenticationFailed { .. })),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(&results[3], Err(Error::VersionRetired { .. })),
        "{:?}",
        results[3]
    );
    assert!(
        matches!(&results[4], Err(Error::PermissionDenied { .. })),
        "{:?}",
        results[4]
    );
    assert!(
        matches!(&results[5], Err(Error::InvalidCiphertext { .. })),
        "{:?}",
        results[5]
    );
    assert_eq!(results[6].as_ref().unwrap().plaintext, b"fresh");

    // Rewrap: the retired one fails, the current one is re-encrypted under the primary.
    let results = admin
        .rewrap_many(vec![
            RewrapRequest {
                ciphertext: old.ciphertext.clone(),
                associated_data: Vec::new(),
            },
            RewrapRequest {
                ciphertext: first.ciphertext.clone(),
                associated_data: b"row=1".to_vec(),
            },
        ])
        .await
        .unwrap();
    assert!(
        matches!(&results[0], Err(Error::VersionRetired { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().key_version, first.key_version);

    // Every item is counted once by outcome.
    let scrape = scrape(s.server.http_addr().unwrap()).await;
    let items = |method: &str, outcome: &str| {
        scrape.sum(
            "rekey_batch_items_total",
            &[("method", method), ("outcome", outcome)],
        )
    };
    assert_eq!(
        (items("EncryptBatch", "ok"), items("EncryptBatch", "error")),
        (2.0, 3.0)
    );
    assert_eq!(
        (items("DecryptBatch", "ok"), items("DecryptBatch", "error")),
        (2.0, 5.0)
    );
    assert_eq!(
        (items("RewrapBatch", "ok"), items("RewrapBatch", "error")),
        (1.0, 1.0)
    );
    s.stop().await;
    env.finish().await;
}

async fn many_items_split_into_calls_within_the_limits(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let client = client_with(&s, &env.admin_token(), &recorder).await;

    let items: Vec<EncryptRequest> = (0..25_000u32)
        .map(|i| encrypt(KEY, &i.to_be_bytes(), b""))
        .collect();
    let before = served(&s.server, "EncryptBatch").await;
    let sealed = client.encrypt_many(items).await.unwrap();
    assert_eq!(
        served(&s.server, "EncryptBatch").await - before,
        3.0,
        "10k + 10k + 5k"
    );
    let requests = sealed
        .iter()
        .map(|r| decrypt(&r.as_ref().unwrap().ciphertext, b""))
        .collect();
    let opened = client.decrypt_many(requests).await.unwrap();
    for (i, r) in opened.iter().enumerate() {
        assert_eq!(
            r.as_ref().unwrap().plaintext,
            (i as u32).to_be_bytes(),
            "item {i}"
        );
    }

    // Client-side limits: 7 items a call; an item above the byte limit is not sent.
    let small = Client::builder(format!("http://{}", s.server.grpc_addr()))
        .token(env.admin_token())
        .batch_max_items(7)
        .batch_max_bytes(1000)
        .connect()
        .await
        .unwrap();
    let before = served(&s.server, "EncryptBatch").await;
    let mut items: Vec<EncryptRequest> = (0..20u8).map(|i| encrypt(KEY, &[i], b"")).collect();
    items.insert(5, encrypt(KEY, &[0; 1001], b""));
    let results = small.encrypt_many(items).await.unwrap();
    assert_eq!(served(&s.server, "EncryptBatch").await - before, 3.0);
    assert_eq!(results.len(), 21);
    assert!(
        matches!(&results[5], Err(Error::TooLarge { message }) if message.contains("item 5 is 1001 bytes")),
        "{:?}",
        results[5]
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 20);
    assert!(small.encrypt_many(Vec::new()).await.unwrap().is_empty());

    // The server's own limits refuse a whole call.
    let over: Vec<EncryptRequest> = (0..10_001).map(|_| encrypt(KEY, b"", b"")).collect();
    let err = client
        .encrypt_batch(EncryptBatchRequest { items: over })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooLarge { message } if message.contains("keystore.max_batch_items")),
        "{err}"
    );
    let err = client
        .encrypt_batch(EncryptBatchRequest { items: Vec::new() })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    // A wrong token fails the whole call, with no partial results.
    let wrong = client_with(&s, "not-a-token", &recorder).await;
    let err = wrong
        .encrypt_many(vec![encrypt(KEY, b"x", b"")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");
    s.stop().await;
    env.finish().await;
}

on_every_backend!(
    a_batch_answers_each_item_in_order_with_its_own_error,
    many_items_split_into_calls_within_the_limits,
);
