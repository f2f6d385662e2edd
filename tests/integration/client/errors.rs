//! Typed errors from the real server: what a caller matches on.

use rekey_client::proto::{
    CreateTokenRequest, DecryptRequest, EncryptRequest, GetStatusRequest, TokenRole,
};
use rekey_client::{CallOptions, Client, Error};

use super::{client_with, Recorder, KEY};
use crate::on_every_backend;
use crate::support::{Backend, TestEnv};

fn encrypt(key: &str) -> EncryptRequest {
    EncryptRequest {
        key_name: key.into(),
        plaintext: b"p".to_vec(),
        associated_data: Vec::new(),
    }
}

async fn server_answers_become_typed_errors(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let recorder = Recorder::default();
    let admin = client_with(&s, &env.admin_token(), &recorder).await;

    // A round trip, with a caller's trace context passed through.
    let options =
        CallOptions::traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let ct = admin.encrypt_with(encrypt(KEY), &options).await.unwrap();
    let pt = admin
        .decrypt(DecryptRequest {
            ciphertext: ct.ciphertext.clone(),
            associated_data: Vec::new(),
            key_name: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(pt.plaintext, b"p");

    let err = admin.encrypt(encrypt("NO_SUCH_KEY")).await.unwrap_err();
    assert!(
        matches!(&err, Error::KeyNotFound { message } if message.contains("NO_SUCH_KEY")),
        "{err}"
    );
    let err = admin.encrypt(encrypt("bad name!")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");

    let mut tampered = ct.ciphertext.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let err = admin
        .decrypt(DecryptRequest {
            ciphertext: tampered,
            associated_data: Vec::new(),
            key_name: String::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err}");
    let err = admin
        .decrypt(DecryptRequest {
            ciphertext: b"not rekey".to_vec(),
            associated_data: Vec::new(),
            key_name: String::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext { .. }), "{err}");

    // Wrong token: UNAUTHENTICATED, with no retry.
    let wrong = client_with(&s, "not-a-token", &recorder).await;
    let err = wrong
        .get_status(GetStatusRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");
    assert_eq!(recorder.attempts("GetStatus").len(), 1);

    // No token at all.
    let anonymous = Client::connect(format!("http://{}", s.server.grpc_addr()))
        .await
        .unwrap();
    let err = anonymous.encrypt(encrypt(KEY)).await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err}");

    // A client token scoped to another key: PERMISSION_DENIED.
    let scoped = admin
        .create_token(CreateTokenRequest {
            name: "sessions-only".into(),
            role: TokenRole::Client as i32,
            key_names: vec!["SESSION_ENCRYPTION".into()],
            operations: Vec::new(),
            expires_at: None,
        })
        .await
        .unwrap();
    let client = client_with(&s, &scoped.token, &recorder).await;
    client.encrypt(encrypt("SESSION_ENCRYPTION")).await.unwrap();
    let err = client.encrypt(encrypt(KEY)).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    // The token never shows in the client's Debug.
    assert!(!format!("{client:?}").contains(&scoped.token));
    s.stop().await;
    env.finish().await;
}

/// A value under a retired version: the typed retired error, from the plain Decrypt and from
/// envelope decryption (whose data key the server will no longer unwrap) alike.
async fn a_retired_version_is_the_typed_retired_error(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let recorder = Recorder::default();
    let admin = client_with(&s, &env.admin_token(), &recorder).await;
    let old = admin.encrypt(encrypt(KEY)).await.unwrap();
    let sealed = admin
        .envelope(
            KEY,
            rekey_client::CachePolicy::new(std::time::Duration::from_secs(60)),
        )
        .unwrap()
        .encrypt(b"card", b"row=1")
        .await
        .unwrap();
    s.rotate(KEY).await;
    assert!(s
        .server
        .manager()
        .retire_version(KEY, old.key_version, "test")
        .await
        .unwrap());

    let err = admin
        .decrypt(DecryptRequest {
            ciphertext: old.ciphertext,
            associated_data: Vec::new(),
            key_name: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::VersionRetired { message } if message.contains("retired")),
        "{err}"
    );
    // A cold cipher (another process, say) must unwrap the value's data key: refused alike.
    let cold = admin
        .envelope(
            KEY,
            rekey_client::CachePolicy::new(std::time::Duration::from_secs(60)),
        )
        .unwrap();
    let err = cold.decrypt(&sealed, b"row=1").await.unwrap_err();
    assert!(matches!(err, Error::VersionRetired { .. }), "{err}");
    s.stop().await;
    env.finish().await;
}

on_every_backend!(
    server_answers_become_typed_errors,
    a_retired_version_is_the_typed_retired_error,
);
