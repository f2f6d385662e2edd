//! Every client mistake gets the right status and a message a person can act on, nothing
//! panics, and the server keeps serving afterwards.

use tonic::Code;

use crate::support::{Backend, TestEnv};

fn expect(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    code: Code,
    words: &str,
    case: &str,
) {
    let status = result.expect_err(case);
    assert_eq!(status.code(), code, "{case}: {status:?}");
    assert!(
        status.message().contains(words),
        "{case}: message {:?} should contain {words:?}",
        status.message()
    );
}

async fn malformed_ciphertexts_are_invalid_arguments(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let good = s
        .encrypt_ad(
            "TOKEN_ENCRYPTION",
            b"card 4111 1111 1111 1111",
            b"customer 7",
        )
        .await
        .ciphertext;
    let ad = b"customer 7";

    expect(
        s.try_decrypt_ad(&[], ad).await,
        Code::InvalidArgument,
        "empty",
        "empty",
    );
    expect(
        s.try_decrypt_ad(&good[..10], ad).await,
        Code::InvalidArgument,
        "truncated",
        "truncated header",
    );
    expect(
        s.try_decrypt_ad(&good[..good.len() - 1], ad).await,
        Code::InvalidArgument,
        "authentication",
        "truncated tag",
    );
    let random: Vec<u8> = (0..80u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    expect(
        s.try_decrypt_ad(&random, ad).await,
        Code::InvalidArgument,
        "not a Rekey ciphertext",
        "random bytes",
    );
    let mut wrong_version = good.clone();
    wrong_version[2] = 9;
    expect(
        s.try_decrypt_ad(&wrong_version, ad).await,
        Code::InvalidArgument,
        "format version 9",
        "format version",
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x01;
    expect(
        s.try_decrypt_ad(&flipped, ad).await,
        Code::InvalidArgument,
        "authentication",
        "bit flip in body",
    );
    let mut nonce_flipped = good.clone();
    nonce_flipped[5 + "TOKEN_ENCRYPTION".len() + 4] ^= 0x80;
    expect(
        s.try_decrypt_ad(&nonce_flipped, ad).await,
        Code::InvalidArgument,
        "authentication",
        "bit flip in nonce",
    );
    expect(
        s.try_decrypt(&good).await,
        Code::InvalidArgument,
        "associated data",
        "missing associated data",
    );
    let mut version_flipped = good.clone();
    version_flipped[5 + "TOKEN_ENCRYPTION".len() + 3] = 7;
    expect(
        s.try_decrypt_ad(&version_flipped, ad).await,
        Code::NotFound,
        "version 7",
        "unknown version",
    );

    // The untouched ciphertext still decrypts: nothing above changed any state.
    let ok = s.decrypt_ad(&good, ad).await;
    assert_eq!(ok.plaintext, b"card 4111 1111 1111 1111");
    s.stop().await;
    env.finish().await;
}

async fn unknown_empty_and_malformed_key_names(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    expect(
        s.try_encrypt("NO_SUCH_KEY", b"x").await,
        Code::NotFound,
        "NO_SUCH_KEY",
        "unknown key",
    );
    expect(
        s.try_encrypt("", b"x").await,
        Code::InvalidArgument,
        "empty",
        "empty key name",
    );
    expect(
        s.try_encrypt("bad name!", b"x").await,
        Code::InvalidArgument,
        "key name",
        "bad characters",
    );
    expect(
        s.try_encrypt(&"K".repeat(65), b"x").await,
        Code::InvalidArgument,
        "key name",
        "65-byte name",
    );
    // The message names the rejected value and the rule, once.
    let status = s.try_encrypt("bad name!", b"x").await.unwrap_err();
    assert_eq!(
        status.message(),
        "invalid key name \"bad name!\": it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, '_', '.' or '-'"
    );
    let long = s.try_encrypt(&"K".repeat(500), b"x").await.unwrap_err();
    assert!(
        long.message().contains(&format!("\"{}…\"", "K".repeat(80))),
        "{}",
        long.message()
    );
    assert!(
        !long.message().contains(&"K".repeat(81)),
        "{}",
        long.message()
    );
    expect(
        s.try_status("NO_SUCH_KEY").await,
        Code::NotFound,
        "NO_SUCH_KEY",
        "status of unknown key",
    );
    expect(
        s.try_rotate_forced("NO_SUCH_KEY").await,
        Code::NotFound,
        "NO_SUCH_KEY",
        "rotate unknown key",
    );
    s.stop().await;
    env.finish().await;
}

async fn wrong_purpose_is_a_failed_precondition(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    expect(
        s.try_sign("TOKEN_ENCRYPTION", b"m").await,
        Code::FailedPrecondition,
        "cannot be used to sign",
        "sign with an encryption key",
    );
    expect(
        s.try_encrypt("API_SIGNATURE", b"x").await,
        Code::FailedPrecondition,
        "cannot be used to encrypt",
        "encrypt with a signing key",
    );
    let signature = s.sign("API_SIGNATURE", b"m").await.signature;
    expect(
        s.try_decrypt(&signature).await,
        Code::InvalidArgument,
        "expected a ciphertext, got a signature",
        "signature given to Decrypt",
    );
    let ciphertext = s.encrypt("TOKEN_ENCRYPTION", b"x").await.ciphertext;
    expect(
        s.try_verify(b"x", &ciphertext).await,
        Code::InvalidArgument,
        "expected a signature, got a ciphertext",
        "ciphertext given to Verify",
    );
    s.stop().await;
    env.finish().await;
}

async fn retired_versions_are_refused_by_name(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let old = s.encrypt("SESSION_ENCRYPTION", b"session").await;
    s.rotate("SESSION_ENCRYPTION").await;
    assert!(s
        .server
        .manager()
        .retire_version("SESSION_ENCRYPTION", 1, "test")
        .await
        .unwrap());
    expect(
        s.try_decrypt(&old.ciphertext).await,
        Code::FailedPrecondition,
        "version 1 of key \"SESSION_ENCRYPTION\" is retired",
        "decrypt with a retired version",
    );
    // The primary can never be retired.
    assert!(!s
        .server
        .manager()
        .retire_version("SESSION_ENCRYPTION", 2, "test")
        .await
        .unwrap());
    s.encrypt("SESSION_ENCRYPTION", b"new").await;
    s.stop().await;
    env.finish().await;
}

async fn oversized_messages_are_resource_exhausted(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.max_plaintext_bytes = 1024).await;
    let mut s = env.start().await;
    expect(
        s.try_encrypt("TOKEN_ENCRYPTION", &[0u8; 1025]).await,
        Code::ResourceExhausted,
        "limit of 1024 bytes",
        "plaintext over the limit",
    );
    expect(
        s.try_sign("API_SIGNATURE", &[0u8; 2048]).await,
        Code::ResourceExhausted,
        "limit of 1024 bytes",
        "message over the limit",
    );
    // Far beyond the limit, the transport refuses the message before it is decoded.
    let huge = s
        .try_encrypt("TOKEN_ENCRYPTION", &vec![0u8; 200 * 1024])
        .await;
    let status = huge.expect_err("transport limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    s.encrypt("TOKEN_ENCRYPTION", &[0u8; 1024]).await;
    s.stop().await;
    env.finish().await;
}

/// The `rekey-error-reason` metadata a status carries over the wire ("" when none).
fn reason_of<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> String {
    let status = result.expect_err("the call must fail");
    status
        .metadata()
        .get("rekey-error-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Clients map errors by the machine-readable reason, not by the words of the message.
async fn every_error_carries_its_reason(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let mut good = s
        .encrypt_ad("TOKEN_ENCRYPTION", b"secret", b"ad")
        .await
        .ciphertext;
    let last = good.len() - 1;
    good[last] ^= 1;
    let cases = [
        (
            reason_of(s.try_decrypt_ad(&good, b"ad").await),
            "ERROR_REASON_AUTHENTICATION_FAILED",
        ),
        (
            reason_of(s.try_decrypt_ad(b"not a ciphertext", b"").await),
            "ERROR_REASON_INVALID_VALUE",
        ),
        (
            reason_of(s.try_encrypt("NO_SUCH_KEY", b"x").await),
            "ERROR_REASON_KEY_NOT_FOUND",
        ),
        (
            reason_of(s.try_encrypt("bad name!", b"x").await),
            "ERROR_REASON_INVALID_ARGUMENT",
        ),
        (
            reason_of(s.try_sign("TOKEN_ENCRYPTION", b"x").await),
            "ERROR_REASON_WRONG_PURPOSE",
        ),
        (
            reason_of(s.try_retry_event("evt-000000000000000000000000").await),
            "ERROR_REASON_EVENT_NOT_FOUND",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    every_error_carries_its_reason,
    malformed_ciphertexts_are_invalid_arguments,
    unknown_empty_and_malformed_key_names,
    wrong_purpose_is_a_failed_precondition,
    retired_versions_are_refused_by_name,
    oversized_messages_are_resource_exhausted,
);
