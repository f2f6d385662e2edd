//! Round trips of every data-plane rpc and the status report.

use rekey::proto::{AlertLevel, KeyPurpose, KeyVersionState};

use crate::support::{Backend, TestEnv};

async fn encrypt_decrypt_round_trip(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    for plaintext in [Vec::new(), b"x".to_vec(), vec![0xA5; 64 * 1024]] {
        let enc = s
            .encrypt_ad("TOKEN_ENCRYPTION", &plaintext, b"user:42")
            .await;
        assert_eq!(enc.key_version, 1);
        // Header (21 bytes + key name), ciphertext, 16-byte tag: see docs/ciphertext-format.md.
        assert_eq!(
            enc.ciphertext.len(),
            21 + "TOKEN_ENCRYPTION".len() + plaintext.len() + 16
        );
        let dec = s.decrypt_ad(&enc.ciphertext, b"user:42").await;
        assert_eq!(dec.plaintext, plaintext);
        assert_eq!(dec.key_name, "TOKEN_ENCRYPTION");
        assert_eq!(dec.key_version, 1);
    }
    // Two encryptions of the same plaintext differ (fresh nonce each time).
    let a = s.encrypt("DATABASE_ENCRYPTION", b"same").await;
    let b = s.encrypt("DATABASE_ENCRYPTION", b"same").await;
    assert_ne!(a.ciphertext, b.ciphertext);
    s.stop().await;
    env.finish().await;
}

async fn data_keys_unwrap_with_decrypt(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let dk = s
        .generate_data_key("FILE_ENCRYPTION", b"bucket/report.pdf")
        .await;
    assert_eq!(dk.plaintext_key.len(), 32);
    assert_eq!(dk.key_version, 1);
    let dec = s.decrypt_ad(&dk.wrapped_key, b"bucket/report.pdf").await;
    assert_eq!(dec.plaintext, dk.plaintext_key);
    assert_eq!(dec.key_name, "FILE_ENCRYPTION");
    let other = s.generate_data_key("FILE_ENCRYPTION", b"").await;
    assert_ne!(other.plaintext_key, dk.plaintext_key);
    s.stop().await;
    env.finish().await;
}

async fn rewrap_moves_to_the_primary_and_keeps_the_plaintext(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let old = s
        .encrypt_ad("TOKEN_ENCRYPTION", b"oauth-refresh-token", b"ad")
        .await;
    s.rotate("TOKEN_ENCRYPTION").await;
    let rewrapped = s.rewrap(&old.ciphertext, b"ad").await;
    assert_eq!(rewrapped.key_version, 2);
    assert_ne!(rewrapped.ciphertext, old.ciphertext);
    let dec = s.decrypt_ad(&rewrapped.ciphertext, b"ad").await;
    assert_eq!(dec.plaintext, b"oauth-refresh-token");
    assert_eq!(dec.key_version, 2);
    s.stop().await;
    env.finish().await;
}

async fn sign_and_verify(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let signed = s
        .sign("API_SIGNATURE", b"POST /v1/payments amount=10")
        .await;
    assert_eq!(signed.key_version, 1);
    let ok = s
        .verify(b"POST /v1/payments amount=10", &signed.signature)
        .await;
    assert!(ok.valid);
    assert_eq!((ok.key_name.as_str(), ok.key_version), ("API_SIGNATURE", 1));
    let bad = s
        .verify(b"POST /v1/payments amount=99", &signed.signature)
        .await;
    assert!(!bad.valid);

    // Old signatures still verify after a rotation; new ones use the new version.
    s.rotate("API_SIGNATURE").await;
    let ok = s
        .verify(b"POST /v1/payments amount=10", &signed.signature)
        .await;
    assert!(ok.valid);
    let resigned = s
        .sign("API_SIGNATURE", b"POST /v1/payments amount=10")
        .await;
    assert_eq!(resigned.key_version, 2);
    assert_ne!(resigned.signature, signed.signature);
    s.stop().await;
    env.finish().await;
}

async fn status_lists_the_runbook_keys(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let all = s.status_all().await;
    let mut names: Vec<_> = all.keys.iter().map(|k| k.key_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "API_SIGNATURE",
            "DATABASE_ENCRYPTION",
            "FILE_ENCRYPTION",
            "SESSION_ENCRYPTION",
            "TOKEN_ENCRYPTION"
        ]
    );
    let session = s.status("SESSION_ENCRYPTION").await;
    assert_eq!(session.keys.len(), 1);
    let key = &session.keys[0];
    assert_eq!(key.purpose(), KeyPurpose::EncryptDecrypt);
    assert_eq!(key.algorithm, "AES-256-GCM");
    let policy = key.policy.as_ref().unwrap();
    assert_eq!(
        policy.rotation_interval.as_ref().unwrap().seconds,
        30 * 86_400
    );
    assert_eq!(policy.grace_period.as_ref().unwrap().seconds, 7 * 86_400);
    assert_eq!(key.primary_version, 1);
    assert_eq!(key.versions.len(), 1);
    assert_eq!(key.versions[0].state(), KeyVersionState::Active);
    assert_eq!(key.versions[0].check_value.len(), 16);
    assert_eq!(key.alert_level(), AlertLevel::Ok);
    // A fresh 30-day key is due in 30 days (the time left rounds up).
    assert_eq!(key.alert_reason, "rotation due in 30 days");
    let due = key.next_rotation_due.as_ref().unwrap().seconds;
    let created = key.versions[0].created_at.as_ref().unwrap().seconds;
    assert_eq!(due - created, 30 * 86_400);
    let signing = all
        .keys
        .iter()
        .find(|k| k.key_name == "API_SIGNATURE")
        .unwrap();
    assert_eq!(signing.purpose(), KeyPurpose::SignVerify);
    assert_eq!(signing.algorithm, "HMAC-SHA256");
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    encrypt_decrypt_round_trip,
    data_keys_unwrap_with_decrypt,
    rewrap_moves_to_the_primary_and_keeps_the_plaintext,
    sign_and_verify,
    status_lists_the_runbook_keys,
);
