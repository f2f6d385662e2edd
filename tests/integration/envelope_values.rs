//! Envelope ciphertexts (kind 0x03) and stream ciphertexts (kind 0x04) sealed locally with
//! a data key from a real GenerateDataKey: the server's Decrypt opens them, Rewrap and the
//! migration worker rewrap only the embedded data key (payload bytes unchanged), and
//! tampered values are refused.

use rekey::crypto::{wrapped_key_len, DataKey, EnvelopeCiphertext, DATA_KEY_AAD};
use tonic::Code;

use crate::app_db::{owner, plaintext, version_of, AppBackend, AppDb, KEY};
use crate::migration::env_with_legacy_key;
use crate::support::{Backend, Clients, TestEnv};

/// A data key for `key` from the server, as a client would make it.
async fn data_key(s: &mut Clients, key: &str) -> DataKey {
    let answer = s.generate_data_key(key, DATA_KEY_AAD).await;
    DataKey::new(
        key,
        answer.key_version,
        &answer.plaintext_key,
        answer.wrapped_key.clone(),
    )
    .expect("GenerateDataKey answers a usable data key")
}

/// Bytes of `value` from its salt on: salt, nonce, payload and tag.
fn payload_part(value: &[u8]) -> &[u8] {
    let n = usize::from(value[4]);
    &value[9 + n + wrapped_key_len(n)..]
}

async fn decrypt_opens_a_locally_sealed_value(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let key = data_key(&mut s, "TOKEN_ENCRYPTION").await;
    for (text, ad) in [
        (&b"card 4111-1111"[..], &b"row=7"[..]),
        (b"", b""),
        (&[0x5A; 4096][..], b"row=8"),
    ] {
        let sealed = key.seal(text, ad).expect("seals");
        // A stream ciphertext held whole opens the same way (several 256-byte segments).
        let streamed = key.seal_stream(text, 256, ad).expect("seals");
        for value in [sealed, streamed] {
            let dec = s.decrypt_ad(&value, ad).await;
            assert_eq!(dec.plaintext, text);
            assert_eq!(
                (dec.key_name.as_str(), dec.key_version),
                ("TOKEN_ENCRYPTION", 1)
            );
            // Other associated data is refused like any failed authentication.
            let refused = s.try_decrypt_ad(&value, b"row=999").await.unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
            assert!(refused.message().contains("failed authentication"));
        }
    }
    s.stop().await;
    env.finish().await;
}

async fn rewrap_after_rotate_keeps_the_payload_bytes(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let key = data_key(&mut s, "TOKEN_ENCRYPTION").await;
    let value = key.seal(b"keep my bytes", b"ad").expect("seals");
    s.rotate("TOKEN_ENCRYPTION").await;
    let rewrapped = s.rewrap(&value, b"ad").await;
    assert_eq!(rewrapped.key_version, 2);
    let new = rewrapped.ciphertext;
    assert_eq!(version_of(&new), 2);
    assert_eq!(new.len(), value.len());
    assert_eq!(
        payload_part(&new),
        payload_part(&value),
        "payload unchanged"
    );
    let parsed = EnvelopeCiphertext::parse(&new).expect("still an envelope ciphertext");
    assert_ne!(parsed.wrapped_key(), key.wrapped_key());
    let dec = s.decrypt_ad(&new, b"ad").await;
    assert_eq!(dec.plaintext, b"keep my bytes");
    assert_eq!(dec.key_version, 2);
    // The embedded data key is the same: a client unwrapping the new wrapped key opens it.
    let unwrapped = s.decrypt_ad(parsed.wrapped_key(), DATA_KEY_AAD).await;
    let again = DataKey::new(
        "TOKEN_ENCRYPTION",
        2,
        &unwrapped.plaintext,
        parsed.wrapped_key().to_vec(),
    )
    .expect("valid");
    assert!(again.same_key_as(&key));
    assert_eq!(
        again.open(&new, b"ad").unwrap().as_slice(),
        b"keep my bytes"
    );
    // The old value still decrypts while version 1 is usable...
    assert_eq!(
        s.decrypt_ad(&value, b"ad").await.plaintext,
        b"keep my bytes"
    );
    // ...and is refused, like any Decrypt, once version 1 is retired.
    assert!(s
        .server
        .manager()
        .retire_version("TOKEN_ENCRYPTION", 1, "test")
        .await
        .unwrap());
    let refused = s.try_decrypt_ad(&value, b"ad").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("is retired"));
    s.stop().await;
    env.finish().await;
}

async fn tampered_values_are_refused(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let key = data_key(&mut s, "TOKEN_ENCRYPTION").await;
    let other = data_key(&mut s, "TOKEN_ENCRYPTION").await;
    let value = key.seal(b"secret", b"ad").expect("seals");
    let n = usize::from(value[4]);
    let salt_start = 9 + n + wrapped_key_len(n);
    // One byte in each part: wrapped key body, salt, nonce, payload, tag.
    for at in [
        9 + n + 40,
        salt_start,
        salt_start + 16,
        salt_start + 28,
        value.len() - 1,
    ] {
        let mut altered = value.clone();
        altered[at] ^= 0x04;
        let refused = s.try_decrypt_ad(&altered, b"ad").await.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "byte {at}: {refused:?}"
        );
        assert!(
            refused.message().contains("failed authentication"),
            "byte {at}: {refused:?}"
        );
    }
    // Another data key's wrapped key swapped in (same name and version).
    let swapped =
        rekey::crypto::replace_wrapped_key(&value, other.wrapped_key()).expect("same shape");
    let refused = s.try_decrypt_ad(&swapped, b"ad").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    // The header's version alone changed: malformed, with the reason.
    let mut altered = value.clone();
    altered[9 + n - 1] = 2;
    let refused = s.try_decrypt_ad(&altered, b"ad").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("embedded data key"),
        "{refused:?}"
    );
    let refused = s
        .try_decrypt_ad(&value[..value.len() - 30], b"ad")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    s.stop().await;
    env.finish().await;
}

async fn the_migration_worker_rewraps_envelope_values(app: AppBackend) {
    let rows = 300;
    let mut env = env_with_legacy_key(app.keystore()).await;
    let db = AppDb::create(&env, app, 0).await;
    env.config.targets.push(db.target("secrets.token"));
    let mut s = env.start().await;
    let key = data_key(&mut s, KEY).await;
    let mut tx = db.pool.begin().await.unwrap();
    for id in 1..=rows {
        // Every third row a stream ciphertext: its header migrates the same way.
        let value = if id % 3 == 0 {
            key.seal_stream(&plaintext(id), 256, owner(id).as_bytes())
                .unwrap()
        } else {
            key.seal(&plaintext(id), owner(id).as_bytes()).unwrap()
        };
        db.insert_raw(&mut tx, id, &value).await;
    }
    tx.commit().await.unwrap();
    let before = db.all().await;

    let event = s.force_rotation(KEY).await;
    let done = s.wait_for_event(&event.event_id, "completed").await;
    let totals = done.totals.unwrap();
    assert_eq!(
        (totals.total, totals.migrated, totals.failed),
        (rows as u64, rows as u64, 0)
    );
    let after = db.all().await;
    let manager = s.server.manager();
    for ((id, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(version_of(new), 2, "row {id}");
        assert_eq!(payload_part(new), payload_part(old), "row {id}");
        let dec = manager
            .decrypt(new, owner(*id).as_bytes())
            .await
            .expect("row decrypts");
        assert_eq!(*dec.plaintext, plaintext(*id), "row {id}");
    }
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    decrypt_opens_a_locally_sealed_value,
    rewrap_after_rotate_keeps_the_payload_bytes,
    tampered_values_are_refused,
);

/// On PostgreSQL and MariaDB the worker writes only each value's head (compared and rewritten
/// in the database); on SQLite the whole value. The rows end the same either way.
mod migrated {
    use super::*;
    crate::on_every_target_backend!(the_migration_worker_rewraps_envelope_values);
}
