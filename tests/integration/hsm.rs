//! The root key in a PKCS#11 token (SoftHSM2, a real token, no mock): `rekey hsm init-key`,
//! serving every kind of call on it across a restart, `rekey rotate-root-key` from local to
//! pkcs11 and back, the startup failures, the key's non-extractability, a token lost and
//! found while serving, and two replicas on one keystore sharing one token. Each test has its
//! own token directory (`SOFTHSM2_CONF`) and runs `rekey` as a child process.

use std::time::Duration;

use rekey::proto::RotationEventStatus;

use crate::processes::Replica;
use crate::support::softhsm::{rekey, SoftHsm};
use crate::support::{random_root_key, Backend, TestEnv};

const PIN: &str = "4711-user";

/// The environment of a `rekey` whose root key is in `hsm`.
fn on_token(hsm: &SoftHsm) -> Vec<(&'static str, Option<String>)> {
    let mut vars: Vec<_> = hsm.vars().into_iter().map(|(k, v)| (k, Some(v))).collect();
    vars.push(("REKEY_ROOT_KEY_PROVIDER", Some("pkcs11".into())));
    vars.push(("REKEY_MASTER_KEY", None));
    vars
}

fn borrowed<'a>(vars: &'a [(&'a str, Option<String>)]) -> Vec<(&'a str, Option<&'a str>)> {
    vars.iter().map(|(k, v)| (*k, v.as_deref())).collect()
}

/// `rekey hsm init-key` in `hsm`, checked.
fn init_key(hsm: &SoftHsm) {
    let (ok, out, err) = rekey(&["hsm", "init-key"], &on_token(hsm));
    assert!(ok, "{out}{err}");
    assert!(out.contains("Created the root key \"rekey-root\""), "{out}");
    assert!(out.contains("Check value pkcs11:"), "{out}");
}

/// `--data-dir` and, on PostgreSQL, `--database-url` of `env`.
fn keystore_args(env: &TestEnv) -> Vec<String> {
    let mut args = vec![
        "--data-dir".to_owned(),
        env.config.data_dir.display().to_string(),
    ];
    if let Some(url) = env.database_url() {
        args.extend(["--database-url".to_owned(), url]);
    }
    args
}

async fn every_call_is_served_on_a_token_key_across_a_restart(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.master_key = None).await;
    let hsm = SoftHsm::new("rekey-test", PIN);
    init_key(&hsm);
    // Running it again keeps the key.
    let (ok, out, _) = rekey(&["hsm", "init-key"], &on_token(&hsm));
    assert!(ok && out.contains("already holds a fit root key"), "{out}");

    let vars = on_token(&hsm);
    let a = Replica::start_with(&env, "a", "", &[], &borrowed(&vars)).await;
    let mut c = a.clients();
    let sealed = c
        .encrypt_ad("DATABASE_ENCRYPTION", b"card 4111", b"row 7")
        .await;
    assert_eq!(
        c.decrypt_ad(&sealed.ciphertext, b"row 7").await.plaintext,
        b"card 4111"
    );
    let message = b"invoice 12".to_vec();
    let signature = c.sign("API_SIGNATURE", &message).await.signature;
    assert!(c.verify(&message, &signature).await.valid);
    let data_key = c.generate_data_key("DATABASE_ENCRYPTION", b"").await;
    assert_eq!(data_key.plaintext_key.len(), 32);
    // A rotation wraps a new version inside the token; older values still open and rewrap.
    let rotated = c.rotate_forced("DATABASE_ENCRYPTION").await;
    assert_eq!(rotated.new_version, 2);
    let rewrapped = c.rewrap(&sealed.ciphertext, b"row 7").await;
    assert_eq!(rewrapped.key_version, 2);
    let after = c.encrypt("DATABASE_ENCRYPTION", b"after").await;
    assert_eq!(after.key_version, 2);
    let event = c.force_rotation("TOKEN_ENCRYPTION").await;
    c.wait_for_event(&event.event_id, "completed").await;
    let rolled_back = c.rollback("DATABASE_ENCRYPTION").await;
    assert_eq!(rolled_back.primary_version, 1);
    a.terminate();

    // A restart unwraps every version in the token again.
    let b = Replica::start_with(&env, "b", "", &[], &borrowed(&vars)).await;
    let mut c = b.clients();
    for (ciphertext, plaintext) in [
        (&sealed.ciphertext, &b"card 4111"[..]),
        (&rewrapped.ciphertext, &b"card 4111"[..]),
    ] {
        assert_eq!(
            c.decrypt_ad(ciphertext, b"row 7").await.plaintext,
            plaintext
        );
    }
    assert_eq!(c.decrypt(&after.ciphertext).await.plaintext, b"after");
    assert!(c.verify(&message, &signature).await.valid);
    drop(b);

    // A row moved to another version (a valid token value, bound to version 2) is refused:
    // the start stops, naming the key and version.
    let db = env.keystore_pool().await;
    sqlx::query(
        "UPDATE key_versions SET wrapped_material = (SELECT wrapped_material FROM key_versions \
         WHERE key_name = 'DATABASE_ENCRYPTION' AND version = 2) \
         WHERE key_name = 'DATABASE_ENCRYPTION' AND version = 1",
    )
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    let mut serve = vec!["serve", "--listen", "127.0.0.1:0", "--http-listen", "off"];
    let keystore = keystore_args(&env);
    serve.extend(keystore.iter().map(String::as_str));
    let (ok, _, err) = rekey(&serve, &vars);
    assert!(
        !ok && err.contains("key DATABASE_ENCRYPTION version 1")
            && err.contains("does not open with the root key"),
        "{err}"
    );
    env.finish().await;
}

async fn the_root_key_moves_from_local_to_a_token_and_back(backend: Backend) {
    let old_key = random_root_key();
    let env = TestEnv::with(backend, |c| {
        c.keystore.master_key = Some(secrecy::SecretString::from(old_key.clone()));
    })
    .await;
    let a = Replica::start(&env, "a", "", &[]).await;
    let mut c = a.clients();
    let v1 = c.encrypt("TOKEN_ENCRYPTION", b"made under local v1").await;
    c.rotate_forced("TOKEN_ENCRYPTION").await;
    let v2 = c.encrypt("TOKEN_ENCRYPTION", b"made under local v2").await;
    let signature = c.sign("API_SIGNATURE", b"signed locally").await.signature;
    a.terminate();

    // local → pkcs11: the current key is the configured local one, the new one the token's.
    let hsm = SoftHsm::new("rekey-move", PIN);
    init_key(&hsm);
    let mut to_token: Vec<(&str, Option<String>)> =
        hsm.vars().into_iter().map(|(k, v)| (k, Some(v))).collect();
    to_token.push(("REKEY_MASTER_KEY", Some(old_key.clone())));
    let mut args = vec!["rotate-root-key", "--to", "pkcs11"];
    let keystore = keystore_args(&env);
    args.extend(keystore.iter().map(String::as_str));
    let (ok, out, err) = rekey(&args, &to_token);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Re-wrapped 6 key versions"), "{out}");
    // Again: nothing to do.
    let (ok, out, _) = rekey(&args, &to_token);
    assert!(ok && out.contains("nothing to do"), "{out}");

    let vars = on_token(&hsm);
    let b = Replica::start_with(&env, "b", "", &[], &borrowed(&vars)).await;
    let mut c = b.clients();
    assert_eq!(
        c.decrypt(&v1.ciphertext).await.plaintext,
        b"made under local v1"
    );
    assert_eq!(
        c.decrypt(&v2.ciphertext).await.plaintext,
        b"made under local v2"
    );
    let v3 = c.encrypt("TOKEN_ENCRYPTION", b"made on the token").await;
    drop(b);

    // pkcs11 → another key in the same token.
    let (ok, out, err) = rekey(
        &["hsm", "init-key", "--key-label", "rekey-root-2"],
        &on_token(&hsm),
    );
    assert!(
        ok && out.contains("Created the root key \"rekey-root-2\""),
        "{out}{err}"
    );
    let mut args = vec![
        "rotate-root-key",
        "--to",
        "pkcs11",
        "--new-key-label",
        "rekey-root-2",
    ];
    args.extend(keystore.iter().map(String::as_str));
    let (ok, out, err) = rekey(&args, &on_token(&hsm));
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Re-wrapped 6 key versions") && out.contains("key \"rekey-root-2\""),
        "{out}"
    );
    let mut second_key = on_token(&hsm);
    second_key.push(("REKEY_PKCS11_KEY_LABEL", Some("rekey-root-2".into())));
    // The first key no longer opens the keystore; the second does.
    let mut serve = vec!["serve", "--listen", "127.0.0.1:0", "--http-listen", "off"];
    serve.extend(keystore.iter().map(String::as_str));
    let (ok, _, err) = rekey(&serve, &on_token(&hsm));
    assert!(!ok && err.contains("does not open this keystore"), "{err}");
    let b2 = Replica::start_with(&env, "b2", "", &[], &borrowed(&second_key)).await;
    let mut c = b2.clients();
    assert_eq!(
        c.decrypt(&v3.ciphertext).await.plaintext,
        b"made on the token"
    );
    drop(b2);

    // pkcs11 → local, a recovery drill: the new key comes from a file.
    let new_key = random_root_key();
    let key_file = env.dir().join("recovered.key");
    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    let key_file = key_file.display().to_string();
    let mut args = vec!["rotate-root-key", "--new-key-file", key_file.as_str()];
    args.extend(keystore.iter().map(String::as_str));
    let (ok, out, err) = rekey(&args, &second_key);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Re-wrapped 6 key versions"), "{out}");

    let back = [("REKEY_MASTER_KEY", Some(new_key.as_str()))];
    let c2 = Replica::start_with(&env, "c", "", &[], &back).await;
    let mut c = c2.clients();
    for (value, plaintext) in [
        (&v1, &b"made under local v1"[..]),
        (&v2, &b"made under local v2"[..]),
        (&v3, &b"made on the token"[..]),
    ] {
        assert_eq!(c.decrypt(&value.ciphertext).await.plaintext, plaintext);
    }
    assert!(c.verify(b"signed locally", &signature).await.valid);
    drop(c2);
    env.finish().await;
}

/// `rekey serve` with `vars`: it must exit at once with one error line containing `cause`,
/// and leave no keystore behind.
fn refuses_to_start(vars: &[(&str, Option<String>)], cause: &str) {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let dir = data_dir.display().to_string();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "off",
        "--data-dir",
        dir.as_str(),
    ];
    let (ok, out, err) = rekey(&args, vars);
    assert!(!ok, "it started: {out}{err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("rekey: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains(cause),
        "expected {cause:?} in: {}",
        errors[0]
    );
    assert!(
        !data_dir.join("rekey.db").exists(),
        "a keystore was created"
    );
}

#[test]
fn a_token_that_cannot_serve_stops_the_start_with_its_cause() {
    let hsm = SoftHsm::new("rekey-start", PIN);
    init_key(&hsm);
    let with = |name: &'static str, value: Option<&str>| {
        let mut vars = on_token(&hsm);
        vars.retain(|(k, _)| *k != name);
        vars.push((name, value.map(str::to_owned)));
        vars
    };
    refuses_to_start(
        &with("REKEY_PKCS11_PIN", Some("not-the-pin")),
        "the PIN of PKCS#11 token \"rekey-start\" is incorrect (from REKEY_PKCS11_PIN)",
    );
    refuses_to_start(
        &with("REKEY_PKCS11_KEY_LABEL", Some("no-such-key")),
        "has no secret key labelled \"no-such-key\"",
    );
    refuses_to_start(
        &with("REKEY_PKCS11_TOKEN_LABEL", Some("absent")),
        "no PKCS#11 token labelled \"absent\"",
    );
    refuses_to_start(
        &with("REKEY_PKCS11_MODULE", Some("/nonexistent/libpkcs11.so")),
        "cannot load the PKCS#11 module /nonexistent/libpkcs11.so",
    );
    refuses_to_start(
        &with("REKEY_PKCS11_PIN", None),
        "no PKCS#11 user PIN: set REKEY_PKCS11_PIN or keystore.pkcs11.pin_file",
    );
    // A PIN never sits in the config file.
    let config = hsm.dir().join("rekey.toml");
    std::fs::write(&config, "[keystore.pkcs11]\npin = \"4711-user\"\n").unwrap();
    let mut vars = on_token(&hsm);
    vars.push(("REKEY_CONFIG", Some(config.display().to_string())));
    refuses_to_start(&vars, "keystore.pkcs11: pin is refused");
    // Both a local and a token root key: which one is meant?
    refuses_to_start(
        &with("REKEY_MASTER_KEY", Some(&random_root_key())),
        "root_key_provider is pkcs11, yet a local root key is set",
    );
}

#[test]
fn the_root_key_cannot_be_read_out_of_the_token() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let hsm = SoftHsm::new("rekey-extract", PIN);
    init_key(&hsm);
    // The only test that loads the module in this process, so SOFTHSM2_CONF is its own.
    std::env::set_var("SOFTHSM2_CONF", hsm.conf());
    let pkcs11 = Pkcs11::new(crate::support::softhsm::module_path()).unwrap();
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let session = pkcs11.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"rekey-root".to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    let key = found[0];
    // Reading CKA_VALUE is refused: the token returns no value for a sensitive key.
    let value = session
        .get_attributes(key, &[AttributeType::Value])
        .unwrap();
    assert!(
        !value.iter().any(|a| matches!(a, Attribute::Value(_))),
        "the token handed out the key's value"
    );
    let flags = session
        .get_attributes(
            key,
            &[
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Sensitive,
            ],
        )
        .unwrap();
    for attribute in &flags {
        match attribute {
            Attribute::Extractable(e) => assert!(!e, "extractable"),
            Attribute::NeverExtractable(n) => assert!(n, "was extractable once"),
            Attribute::Sensitive(s) => assert!(s, "not sensitive"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(flags.len(), 3);
    // Wrapping it out under another key is refused too.
    let wrapper = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
                Attribute::Token(false),
            ],
        )
        .unwrap();
    let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, wrapper, key);
    assert!(wrapped.is_err(), "the key was wrapped out of the token");
}

const ROOT_KEY: &str = "rekey.RootKey";
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// The gRPC health status of `service` ("" for the server as a whole).
async fn health(channel: &tonic::transport::Channel, service: &str) -> i32 {
    tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Whether `service`'s health becomes `status` within 10 s.
async fn health_becomes(channel: &tonic::transport::Channel, service: &str, status: i32) -> bool {
    for _ in 0..100 {
        if health(channel, service).await == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn a_lost_token_stops_rotations_not_loaded_keys_and_is_found_again(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.master_key = None).await;
    let hsm = SoftHsm::new("rekey-lost", PIN);
    init_key(&hsm);
    let mut vars = on_token(&hsm);
    vars.push(("REKEY_KEY_REFRESH_INTERVAL_SECS", Some("1".into())));
    let a = Replica::start_with(&env, "a", "", &[], &borrowed(&vars)).await;
    let mut c = a.clients();
    let before = c.encrypt("TOKEN_ENCRYPTION", b"before the loss").await;
    let channel = a.channel();
    assert_eq!(
        health(&channel, ROOT_KEY).await,
        SERVING,
        "SERVING at first"
    );

    hsm.unplug();
    // Loaded versions keep serving.
    let during = c.encrypt("TOKEN_ENCRYPTION", b"during the loss").await;
    assert_eq!(
        c.decrypt(&before.ciphertext).await.plaintext,
        b"before the loss"
    );
    // A rotation needs the token: UNAVAILABLE, and no version is written.
    let err = c.try_rotate_forced("TOKEN_ENCRYPTION").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("root key is unavailable"),
        "{}",
        err.message()
    );
    assert_eq!(c.status("TOKEN_ENCRYPTION").await.keys[0].versions.len(), 1);
    // Health says so within a refresh interval or two.
    assert!(
        health_becomes(&channel, ROOT_KEY, NOT_SERVING).await,
        "rekey.RootKey never went NOT_SERVING"
    );
    let gauge = crate::metrics::scrape(a.http_addr()).await;
    assert_eq!(gauge.sum("rekey_root_key_available", &[]), 0.0);
    // The CLI probe for it, as a container health check would run it.
    let ask = [("REKEY_ADDR", Some(a.grpc_url().to_owned()))];
    let (ok, out, _) = rekey(&["health", "--service", ROOT_KEY], &ask);
    assert!(!ok && out.trim() == "NOT_SERVING", "{out}");
    let (ok, out, _) = rekey(&["health"], &ask);
    assert!(
        ok && out.trim() == "SERVING",
        "the data plane stays up: {out}"
    );
    // The server as a whole still serves.
    assert_eq!(health(&channel, "").await, SERVING);

    hsm.plug_in();
    assert!(
        health_becomes(&channel, ROOT_KEY, SERVING).await,
        "rekey.RootKey never came back to SERVING"
    );
    let gauge = crate::metrics::scrape(a.http_addr()).await;
    assert_eq!(gauge.sum("rekey_root_key_available", &[]), 1.0);
    let (ok, out, _) = rekey(&["health", "--service", ROOT_KEY], &ask);
    assert!(ok && out.trim() == "SERVING", "{out}");
    let rotated = c.rotate_forced("TOKEN_ENCRYPTION").await;
    assert_eq!(rotated.new_version, 2);
    assert_eq!(
        c.decrypt(&during.ciphertext).await.plaintext,
        b"during the loss"
    );
    drop(a);
    env.finish().await;
}

async fn two_replicas_share_one_token(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.master_key = None).await;
    let hsm = SoftHsm::new("rekey-shared", PIN);
    init_key(&hsm);
    let mut vars = on_token(&hsm);
    vars.push(("REKEY_KEY_REFRESH_INTERVAL_SECS", Some("1".into())));
    let a = Replica::start_with(&env, "a", "", &[], &borrowed(&vars)).await;
    let b = Replica::start_with(&env, "b", "", &[], &borrowed(&vars)).await;
    let (mut ca, mut cb) = (a.clients(), b.clients());
    // A version wrapped by one replica's session unwraps in the other's.
    let rotated = ca.rotate_forced("DATABASE_ENCRYPTION").await;
    let made_on_a = ca.encrypt("DATABASE_ENCRYPTION", b"from a").await;
    assert_eq!(made_on_a.key_version, rotated.new_version);
    assert_eq!(cb.decrypt(&made_on_a.ciphertext).await.plaintext, b"from a");
    let event = cb.force_rotation("TOKEN_ENCRYPTION").await;
    let done = cb.wait_for_event(&event.event_id, "completed").await;
    assert_eq!(done.status(), RotationEventStatus::Completed);
    let made_on_b = cb.encrypt("TOKEN_ENCRYPTION", b"from b").await;
    assert_eq!(ca.decrypt(&made_on_b.ciphertext).await.plaintext, b"from b");
    drop((a, b));
    env.finish().await;
}

crate::on_every_backend!(
    every_call_is_served_on_a_token_key_across_a_restart,
    the_root_key_moves_from_local_to_a_token_and_back,
    a_lost_token_stops_rotations_not_loaded_keys_and_is_found_again,
    two_replicas_share_one_token,
);
