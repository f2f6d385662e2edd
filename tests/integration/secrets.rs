//! Secrets stay secret: a full scenario runs against a real `rekey serve` process with debug
//! logging, and nothing it printed, no error it returned and no audit row it wrote contains
//! any secret the scenario used — tokens, the root key, key material, plaintext.

use base64::Engine as _;
use rekey::proto::ListAuditRequest;
use secrecy::ExposeSecret;

use crate::app_db::LEGACY_V1;
use crate::processes::Replica;
use crate::support::{token_request, Backend, Clients, TestEnv};

/// Every spelling of `bytes` a log line could carry.
fn spellings(bytes: &[u8]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![
        hex::encode(bytes),
        hex::encode_upper(bytes),
        b64.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        format!("{bytes:?}"),
    ];
    if let Ok(text) = std::str::from_utf8(bytes) {
        forms.push(text.to_owned());
    }
    forms
}

async fn no_secret_reaches_logs_errors_or_audit_rows(backend: Backend) {
    let env = TestEnv::with(backend, |c| {
        if c.keystore.master_key.is_none() {
            c.keystore.master_key = Some(secrecy::SecretString::from(
                crate::support::random_root_key(),
            ));
        }
    })
    .await;
    let replica = Replica::start(&env, "leak", "", &[]).await;
    let mut admin = replica.clients();
    let mut secrets: Vec<String> = Vec::new();
    secrets.push(
        env.config
            .admin_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
    );
    let root = env
        .config
        .keystore
        .master_key
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    secrets.push(root.clone());
    secrets.extend(spellings(
        &base64::engine::general_purpose::STANDARD
            .decode(&root)
            .unwrap(),
    ));
    secrets.extend(spellings(&LEGACY_V1));

    let plaintext = b"PLAINTEXT-CANARY-4111-1111-1111-1111".to_vec();
    secrets.extend(spellings(&plaintext));
    let message = b"SIGNED-MESSAGE-CANARY-pay-1000000".to_vec();
    secrets.extend(spellings(&message));

    // A client token, its use, and a wrong token.
    let client = admin
        .create_token(token_request("leak-test", "client"))
        .await
        .token
        .clone();
    secrets.push(client.clone());
    let mut as_client = Clients::new(&replica.channel(), &client);
    let mut errors = Vec::new();
    let ct = as_client
        .encrypt_ad("TOKEN_ENCRYPTION", &plaintext, b"AD-CANARY")
        .await
        .ciphertext;
    as_client.decrypt_ad(&ct, b"AD-CANARY").await;
    let data_key = admin
        .generate_data_key("FILE_ENCRYPTION", b"")
        .await
        .plaintext_key
        .clone();
    secrets.extend(spellings(&data_key));
    admin.sign("API_SIGNATURE", &message).await;
    admin.rotate_forced("TOKEN_ENCRYPTION").await;
    // Failures: wrong associated data, a tampered ciphertext, a wrong token, a scope miss.
    let mut tampered = ct.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for (ciphertext, ad) in [(&ct, &b"wrong"[..]), (&tampered, &b"AD-CANARY"[..])] {
        errors.push(
            as_client
                .try_decrypt_ad(ciphertext, ad)
                .await
                .unwrap_err()
                .message()
                .to_owned(),
        );
    }
    let wrong = "rekey_0123456789ab_WRONG-TOKEN-CANARY-xxxxxxxxxxxxxxxxxxxxxxxxx";
    secrets.push(wrong.to_owned());
    let mut as_wrong = Clients::new(&replica.channel(), wrong);
    errors.push(
        as_wrong
            .try_encrypt("TOKEN_ENCRYPTION", &plaintext)
            .await
            .unwrap_err()
            .message()
            .to_owned(),
    );
    let audit = admin
        .list_audit(ListAuditRequest {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .records;
    assert!(
        audit.iter().any(|r| r.outcome == "denied"),
        "denials are audited"
    );
    assert!(
        audit.iter().any(|r| r.operation.starts_with("Rotate")),
        "rotations are audited"
    );
    let audit_text = format!("{audit:?}");
    replica.terminate();

    let dir = env.dir();
    let output = format!(
        "{}\n{}",
        std::fs::read_to_string(dir.join("leak.log")).unwrap(),
        std::fs::read_to_string(dir.join("leak.out")).unwrap()
    );
    assert!(
        output.contains("rekey::server"),
        "the log was captured: {output}"
    );
    assert!(output.contains("DEBUG"), "debug logging was on");
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "the server output contains a secret ({} chars)",
            secret.len()
        );
        assert!(
            !audit_text.contains(secret.as_str()),
            "an audit row contains a secret ({} chars)",
            secret.len()
        );
        for error in &errors {
            assert!(
                !error.contains(secret.as_str()),
                "an error message contains a secret: {error}"
            );
        }
    }
    env.finish().await;
}

crate::on_every_backend!(no_secret_reaches_logs_errors_or_audit_rows);
