//! Rotation and rollback: old ciphertexts keep decrypting, new ones use the new primary,
//! concurrent rotations stay consistent.

use rekey::proto::KeyVersionState;
use tonic::Code;

use crate::support::{Backend, Clients, TestEnv};

async fn rotate_then_decrypt_old_and_new(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let old = s.encrypt("TOKEN_ENCRYPTION", b"before").await;
    let rotated = s.rotate("TOKEN_ENCRYPTION").await;
    assert_eq!(
        (
            rotated.key_name.as_str(),
            rotated.previous_version,
            rotated.new_version
        ),
        ("TOKEN_ENCRYPTION", 1, 2)
    );
    let new = s.encrypt("TOKEN_ENCRYPTION", b"after").await;
    assert_eq!(new.key_version, 2);
    let d_old = s.decrypt(&old.ciphertext).await;
    assert_eq!(
        (d_old.plaintext.as_slice(), d_old.key_version),
        (&b"before"[..], 1)
    );
    let d_new = s.decrypt(&new.ciphertext).await;
    assert_eq!(
        (d_new.plaintext.as_slice(), d_new.key_version),
        (&b"after"[..], 2)
    );

    let status = s.status("TOKEN_ENCRYPTION").await;
    let key = &status.keys[0];
    assert_eq!(key.primary_version, 2);
    let states: Vec<_> = key
        .versions
        .iter()
        .map(|v| (v.version, v.state()))
        .collect();
    assert_eq!(
        states,
        [
            (1, KeyVersionState::Deprecated),
            (2, KeyVersionState::Active)
        ]
    );
    assert!(key.versions[0].deprecated_at.is_some());
    assert!(key.versions[1].deprecated_at.is_none());
    s.stop().await;
    env.finish().await;
}

async fn a_repeated_rotate_is_refused_unless_forced(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    s.rotate("DATABASE_ENCRYPTION").await;
    let err = s.try_rotate("DATABASE_ENCRYPTION").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("force=true"), "{}", err.message());
    assert!(err.message().contains("version 2"), "{}", err.message());
    let forced = s.rotate_forced("DATABASE_ENCRYPTION").await;
    assert_eq!((forced.previous_version, forced.new_version), (2, 3));
    s.stop().await;
    env.finish().await;
}

async fn rollback_restores_the_previous_primary(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    s.rotate("FILE_ENCRYPTION").await;
    let on_v2 = s.encrypt("FILE_ENCRYPTION", b"v2 data").await;
    assert_eq!(on_v2.key_version, 2);
    let rolled = s.rollback("FILE_ENCRYPTION").await;
    assert_eq!((rolled.primary_version, rolled.rolled_back_version), (1, 2));
    let after = s.encrypt("FILE_ENCRYPTION", b"new data").await;
    assert_eq!(after.key_version, 1);
    // Nothing was destroyed: data written under the rolled-back version still decrypts.
    let dec = s.decrypt(&on_v2.ciphertext).await;
    assert_eq!(dec.plaintext, b"v2 data");
    // A later rotation creates version 3, never a second version 2.
    let next = s.rotate_forced("FILE_ENCRYPTION").await;
    assert_eq!((next.previous_version, next.new_version), (1, 3));
    // With a single version there is nothing to roll back to.
    let err = s.try_rollback("SESSION_ENCRYPTION").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("only version 1"),
        "{}",
        err.message()
    );
    s.stop().await;
    env.finish().await;
}

async fn concurrent_rotations_stay_consistent(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let a = env.start().await;
    let b = env.start().await;
    // Forced: every call rotates, the versions are distinct and consecutive.
    let mut calls = Vec::new();
    for i in 0..12 {
        let mut clients = Clients::clone(if i % 2 == 0 { &a } else { &b });
        calls.push(tokio::spawn(async move {
            clients
                .try_rotate_forced("TOKEN_ENCRYPTION")
                .await
                .map(|r| r.new_version)
        }));
    }
    let mut versions = Vec::new();
    for call in calls {
        versions.push(call.await.unwrap().expect("forced rotation succeeds"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=13).collect::<Vec<u32>>());

    // Not forced: exactly one rotation happens, the others get a clear refusal.
    let mut calls = Vec::new();
    for i in 0..8 {
        let mut clients = Clients::clone(if i % 2 == 0 { &a } else { &b });
        calls.push(tokio::spawn(async move {
            clients.try_rotate("SESSION_ENCRYPTION").await
        }));
    }
    let mut ok = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.new_version, 2);
                ok += 1;
            }
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    assert_eq!(ok, 1);

    let mut a = a;
    let status = a.status("TOKEN_ENCRYPTION").await;
    let key = &status.keys[0];
    assert_eq!(key.primary_version, 13);
    let active: Vec<_> = key
        .versions
        .iter()
        .filter(|v| v.state() == KeyVersionState::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(key.versions.len(), 13);
    a.stop().await;
    b.stop().await;
    env.finish().await;
}

async fn rotation_can_be_disabled(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.rotation.enabled = false).await;
    let mut s = env.start().await;
    for err in [
        s.try_rotate_forced("TOKEN_ENCRYPTION").await.unwrap_err(),
        s.try_rollback("TOKEN_ENCRYPTION").await.unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(
            err.message().contains("KEY_ROTATION_ENABLED=false"),
            "{}",
            err.message()
        );
    }
    // Data-plane operations are unaffected.
    s.encrypt("TOKEN_ENCRYPTION", b"still works").await;
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    rotate_then_decrypt_old_and_new,
    a_repeated_rotate_is_refused_unless_forced,
    rollback_restores_the_previous_primary,
    concurrent_rotations_stay_consistent,
    rotation_can_be_disabled,
);
