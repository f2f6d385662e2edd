//! Rotation and rollback: old ciphertexts keep decrypting, new ones use the new primary,
//! concurrent rotations stay consistent.

use rekey::proto::{
    GetStatusRequest, KeyVersionState, RollbackRequest, RotateRequest, RotateResponse,
};
use tonic::Code;

use crate::support::{dec_req, enc_req};
use crate::support::{Backend, TestEnv, TestServer};

pub async fn rotate(s: &mut TestServer, key: &str, force: bool) -> RotateResponse {
    s.client
        .rotate(RotateRequest {
            key_name: key.into(),
            force,
        })
        .await
        .expect("rotate")
        .into_inner()
}

async fn rotate_then_decrypt_old_and_new(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let old = s
        .client
        .encrypt(enc_req("TOKEN_ENCRYPTION", b"before"))
        .await
        .unwrap()
        .into_inner();
    let rotated = rotate(&mut s, "TOKEN_ENCRYPTION", false).await;
    assert_eq!(
        (
            rotated.key_name.as_str(),
            rotated.previous_version,
            rotated.new_version
        ),
        ("TOKEN_ENCRYPTION", 1, 2)
    );
    let new = s
        .client
        .encrypt(enc_req("TOKEN_ENCRYPTION", b"after"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(new.key_version, 2);
    let d_old = s
        .client
        .decrypt(dec_req(&old.ciphertext))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (d_old.plaintext.as_slice(), d_old.key_version),
        (&b"before"[..], 1)
    );
    let d_new = s
        .client
        .decrypt(dec_req(&new.ciphertext))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (d_new.plaintext.as_slice(), d_new.key_version),
        (&b"after"[..], 2)
    );

    let status = s
        .client
        .get_status(GetStatusRequest {
            key_name: "TOKEN_ENCRYPTION".into(),
        })
        .await
        .unwrap()
        .into_inner();
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
    rotate(&mut s, "DATABASE_ENCRYPTION", false).await;
    let err = s
        .client
        .rotate(RotateRequest {
            key_name: "DATABASE_ENCRYPTION".into(),
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("force=true"), "{}", err.message());
    assert!(err.message().contains("version 2"), "{}", err.message());
    let forced = rotate(&mut s, "DATABASE_ENCRYPTION", true).await;
    assert_eq!((forced.previous_version, forced.new_version), (2, 3));
    s.stop().await;
    env.finish().await;
}

async fn rollback_restores_the_previous_primary(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    rotate(&mut s, "FILE_ENCRYPTION", false).await;
    let on_v2 = s
        .client
        .encrypt(enc_req("FILE_ENCRYPTION", b"v2 data"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on_v2.key_version, 2);
    let rolled = s
        .client
        .rollback(RollbackRequest {
            key_name: "FILE_ENCRYPTION".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rolled.primary_version, rolled.rolled_back_version), (1, 2));
    let after = s
        .client
        .encrypt(enc_req("FILE_ENCRYPTION", b"new data"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.key_version, 1);
    // Nothing was destroyed: data written under the rolled-back version still decrypts.
    let dec = s
        .client
        .decrypt(dec_req(&on_v2.ciphertext))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dec.plaintext, b"v2 data");
    // A later rotation creates version 3, never a second version 2.
    let next = rotate(&mut s, "FILE_ENCRYPTION", true).await;
    assert_eq!((next.previous_version, next.new_version), (1, 3));
    // With a single version there is nothing to roll back to.
    let err = s
        .client
        .rollback(RollbackRequest {
            key_name: "SESSION_ENCRYPTION".into(),
        })
        .await
        .unwrap_err();
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
        let mut client = if i % 2 == 0 {
            a.client.clone()
        } else {
            b.client.clone()
        };
        calls.push(tokio::spawn(async move {
            client
                .rotate(RotateRequest {
                    key_name: "TOKEN_ENCRYPTION".into(),
                    force: true,
                })
                .await
                .map(|r| r.into_inner().new_version)
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
        let mut client = if i % 2 == 0 {
            a.client.clone()
        } else {
            b.client.clone()
        };
        calls.push(tokio::spawn(async move {
            client
                .rotate(RotateRequest {
                    key_name: "SESSION_ENCRYPTION".into(),
                    force: false,
                })
                .await
        }));
    }
    let mut ok = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.into_inner().new_version, 2);
                ok += 1;
            }
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    assert_eq!(ok, 1);

    let mut a = a;
    let status = a
        .client
        .get_status(GetStatusRequest {
            key_name: "TOKEN_ENCRYPTION".into(),
        })
        .await
        .unwrap()
        .into_inner();
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
    let env = TestEnv::with(backend, |c| c.rotation_enabled = false).await;
    let mut s = env.start().await;
    for err in [
        s.client
            .rotate(RotateRequest {
                key_name: "TOKEN_ENCRYPTION".into(),
                force: true,
            })
            .await
            .unwrap_err(),
        s.client
            .rollback(RollbackRequest {
                key_name: "TOKEN_ENCRYPTION".into(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(
            err.message().contains("KEY_ROTATION_ENABLED=false"),
            "{}",
            err.message()
        );
    }
    // Data-plane operations are unaffected.
    s.client
        .encrypt(enc_req("TOKEN_ENCRYPTION", b"still works"))
        .await
        .unwrap();
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
