//! Root-key rotation: `rekey rotate-root-key` re-wraps every key version under a new root key,
//! finishes an interrupted run, and afterwards only the new root key opens the keystore while
//! every existing ciphertext still decrypts.

use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use rekey::clock::SystemClock;
use rekey::crypto::{KeyMaterial, RootKey};
use secrecy::{ExposeSecret, SecretString};

use crate::support::{random_root_key, Backend, TestEnv};

async fn the_root_key_rotates_resumably_and_old_data_still_decrypts(backend: Backend) {
    let mut env = TestEnv::with(backend, |c| {
        c.keystore.master_key = Some(SecretString::from(random_root_key()));
    })
    .await;
    let mut s = env.start().await;
    let v1 = s.encrypt("TOKEN_ENCRYPTION", b"before, v1").await;
    s.rotate_forced("TOKEN_ENCRYPTION").await;
    let v2 = s.encrypt("TOKEN_ENCRYPTION", b"before, v2").await;
    let message = b"signed before".to_vec();
    let signature = s.sign("API_SIGNATURE", &message).await.signature;
    s.stop().await;

    // An earlier run was interrupted after re-wrapping one version.
    let new_material = KeyMaterial::generate();
    let new_b64 = base64::engine::general_purpose::STANDARD.encode(new_material.expose());
    let new_root = RootKey::from_base64(&new_b64).unwrap();
    {
        let (store, old_root) = rekey::server::open_keystore(&env.config).await.unwrap();
        let row = store
            .get_version("TOKEN_ENCRYPTION", 1)
            .await
            .unwrap()
            .unwrap();
        let material = rekey::keystore::root::unwrap_one(
            old_root.as_ref(),
            "TOKEN_ENCRYPTION",
            1,
            &row.wrapped_material,
        )
        .await
        .unwrap();
        let rewrapped = new_root.wrap("TOKEN_ENCRYPTION", 1, &material);
        store
            .replace_wrapped_material("TOKEN_ENCRYPTION", 1, &rewrapped)
            .await
            .unwrap();
    }

    let key_file = env.dir().join("new-root.key");
    std::fs::write(&key_file, format!("{new_b64}\n")).unwrap();
    let (data_dir, old_key, database_url) = (
        env.config.data_dir.clone(),
        env.config
            .keystore
            .master_key
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
        env.database_url(),
    );
    let run = move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
        command
            .arg("rotate-root-key")
            .arg("--new-key-file")
            .arg(&key_file)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("REKEY_MASTER_KEY", &old_key)
            .env_remove("REKEY_DATABASE_URL");
        if let Some(url) = &database_url {
            command.arg("--database-url").arg(url);
        }
        command.output().expect("rekey runs")
    };
    let first = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Five keys' first versions plus TOKEN_ENCRYPTION v2, one of them done before.
    assert!(
        stdout.contains("Re-wrapped 5 key versions")
            && stdout.contains("(1 were done by an earlier run)"),
        "{stdout}"
    );
    let again = tokio::task::spawn_blocking(run).await.unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));

    // The old root key no longer opens the keystore.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("does not open this keystore"),
        "{err:#}"
    );

    // The new one does, and everything made before decrypts and verifies.
    env.config.keystore.master_key = Some(SecretString::from(new_b64));
    let mut s = env.start().await;
    for (ct, expected) in [
        (&v1.ciphertext, &b"before, v1"[..]),
        (&v2.ciphertext, &b"before, v2"[..]),
    ] {
        let d = s.decrypt(ct).await;
        assert_eq!(d.plaintext, expected);
    }
    let verified = s.verify(&message, &signature).await;
    assert!(verified.valid);
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(the_root_key_rotates_resumably_and_old_data_still_decrypts);
