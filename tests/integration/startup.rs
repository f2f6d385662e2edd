//! Starting, restarting and provisioning: data survives restarts, a wrong root key is refused,
//! legacy keys are imported, and grpcurl-style tooling (reflection, health) works.

use std::sync::Arc;

use rekey::clock::SystemClock;
use rekey::crypto::{EncryptionKey, KeyMaterial};
use secrecy::SecretString;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::support::{random_root_key, Backend, TestEnv};

async fn ciphertexts_survive_a_restart(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let v1 = s.encrypt("TOKEN_ENCRYPTION", b"made on v1").await;
    s.rotate("TOKEN_ENCRYPTION").await;
    let v2 = s.encrypt("TOKEN_ENCRYPTION", b"made on v2").await;
    s.stop().await;

    let mut s = env.start().await;
    let d1 = s.decrypt(&v1.ciphertext).await;
    let d2 = s.decrypt(&v2.ciphertext).await;
    assert_eq!(
        (d1.plaintext.as_slice(), d1.key_version),
        (&b"made on v1"[..], 1)
    );
    assert_eq!(
        (d2.plaintext.as_slice(), d2.key_version),
        (&b"made on v2"[..], 2)
    );
    let fresh = s.encrypt("TOKEN_ENCRYPTION", b"x").await;
    assert_eq!(fresh.key_version, 2);
    s.stop().await;
    env.finish().await;
}

async fn a_wrong_root_key_refuses_to_start(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    s.stop().await;
    let mut wrong = env.config.clone();
    wrong.keystore.master_key = Some(SecretString::from(random_root_key()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = rekey::server::start(&wrong, listener, Arc::new(SystemClock))
        .await
        .expect_err("a different root key must not open the keystore");
    let message = format!("{err:#}");
    assert!(message.contains("does not open this keystore"), "{message}");
    // The right key still opens it afterwards: nothing was overwritten.
    let s = env.start().await;
    s.stop().await;
    env.finish().await;
}

async fn legacy_environment_keys_become_version_1(backend: Backend) {
    let legacy = [0x42u8; 32];
    let env = TestEnv::with(backend, |c| {
        c.legacy_keys.0.insert(
            "TOKEN_ENCRYPTION".into(),
            SecretString::from(hex::encode(legacy)),
        );
    })
    .await;
    let mut s = env.start().await;
    // A ciphertext made with the legacy key material outside Rekey decrypts through Rekey.
    let offline = EncryptionKey::new(&KeyMaterial::from_bytes(legacy))
        .encrypt("TOKEN_ENCRYPTION", 1, b"legacy secret", b"")
        .unwrap();
    let dec = s.decrypt(&offline).await;
    assert_eq!(dec.plaintext, b"legacy secret");
    // Keys without a legacy variable got random material instead.
    let status = s.status("TOKEN_ENCRYPTION").await;
    assert_eq!(
        status.keys[0].versions[0].check_value,
        KeyMaterial::from_bytes(legacy).check_value()
    );
    s.stop().await;
    env.finish().await;
}

async fn declared_keys_are_created_with_their_policy(backend: Backend) {
    let env = TestEnv::with(backend, |c| {
        c.keys.push(rekey::config::KeyConfig {
            name: "PAYMENTS".into(),
            purpose: rekey::config::PurposeConfig::EncryptDecrypt,
            rotation_interval_days: 45,
            grace_period_days: 5,
        });
    })
    .await;
    let mut s = env.start().await;
    let ct = s.encrypt("PAYMENTS", b"iban").await;
    assert_eq!(ct.key_version, 1);
    let status = s.status("PAYMENTS").await;
    let policy = status.keys[0].policy.unwrap();
    assert_eq!(policy.rotation_interval.unwrap().seconds, 45 * 86_400);
    assert_eq!(policy.grace_period.unwrap().seconds, 5 * 86_400);
    s.stop().await;
    env.finish().await;
}

/// The service names reflection version `$version` (`v1` or `v1alpha`) lists, sorted.
macro_rules! listed_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("unexpected reflection reply {reply:?}");
        };
        let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        names
    }};
}

async fn health_and_reflection_answer(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let addr = format!("http://{}", s.server.grpc_addr());
    let channel = tonic::transport::Channel::from_shared(addr)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "rekey.v1.KeyService"] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reply.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }

    // What `grpcurl list` prints: the services the reflection version it asks lists, sorted.
    // Each version lists itself, not the other (grpcurl 1.8.8+ asks v1, older ones v1alpha).
    let v1 = listed_services!(v1, channel.clone());
    assert_eq!(
        v1,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "rekey.v1.AdminService",
            "rekey.v1.KeyService",
            "rekey.v1.RotationService",
        ]
    );
    let v1alpha = listed_services!(v1alpha, channel);
    let alpha_expected: Vec<String> = v1
        .iter()
        .map(|name| name.replace("reflection.v1.", "reflection.v1alpha."))
        .collect();
    assert_eq!(v1alpha, alpha_expected);
    s.stop().await;
    env.finish().await;
}

async fn shutdown_is_graceful_and_the_port_is_released(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let addr = s.server.grpc_addr();
    s.rotate_forced("FILE_ENCRYPTION").await;
    s.stop().await;
    // Stopped means stopped: the address no longer accepts gRPC connections.
    let reconnect =
        rekey::proto::key_service_client::KeyServiceClient::connect(format!("http://{addr}")).await;
    assert!(reconnect.is_err(), "server still accepting after shutdown");
    env.finish().await;
}

async fn a_misconfigured_migration_target_stops_startup(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let db = crate::app_db::AppDb::create(&env, backend, 1).await;
    let mut config = env.config.clone();
    let mut target = db.target("users.token");
    target.column = "no_such_column".into();
    config.targets.push(target);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = rekey::server::start(&config, listener, Arc::new(SystemClock))
        .await
        .expect_err("a target whose column does not exist must stop startup");
    let message = format!("{err:#}");
    assert!(message.contains("users.token"), "{message}");
    assert!(message.contains("no_such_column"), "{message}");
    env.finish().await;
}

/// Every file under `dir` by relative path, with the contents of those outside the SQLite
/// keystore (which SQLite checkpoints when it merely opens and closes it); empty if
/// `dir` does not exist. Equal listings before and after a failed start mean it created,
/// removed or rewrote nothing there.
fn listing(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().to_path_buf();
            let name = relative.to_string_lossy();
            if name.starts_with("rekey.db-") {
                // SQLite's write-ahead log and shared memory come and go with connections.
                continue;
            }
            let is_keystore = name == "rekey.db";
            let contents = if path.is_dir() {
                pending.push(path.clone());
                None
            } else if is_keystore {
                None
            } else {
                Some(std::fs::read(&path).unwrap())
            };
            found.push((relative, contents));
        }
    }
    found.sort();
    found
}

/// Starts `config` expecting a failure; returns its message after checking that the data
/// folder is exactly as it was.
async fn failed_start_leaves_data_folder_as_it_was(config: &rekey::config::Config) -> String {
    let before = listing(&config.data_dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = rekey::server::start(config, listener, Arc::new(SystemClock))
        .await
        .expect_err("this start must fail");
    let message = format!("{err:#}");
    assert_eq!(listing(&config.data_dir), before, "{message}");
    message
}

async fn a_taken_http_port_stops_a_first_start_before_anything_is_created(backend: Backend) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let env = TestEnv::with(backend, |config| {
        // No configured admin token: a first start would create and print one.
        config.admin_token = None;
        config.http_listen = Some(taken.local_addr().unwrap());
    })
    .await;
    let message = failed_start_leaves_data_folder_as_it_was(&env.config).await;
    assert!(message.contains("cannot listen for HTTP"), "{message}");
    assert!(!env.config.data_dir.exists(), "{message}");
    // Once the port is free, the same first start succeeds and creates the admin token.
    drop(taken);
    let mut free = env.config.clone();
    free.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = rekey::server::start(&free, listener, Arc::new(SystemClock))
        .await
        .expect("a first start on a free port");
    s.shutdown().await.unwrap();
    assert!(free.data_dir.join("admin.token").exists());
    env.finish().await;
}

async fn a_missing_target_table_stops_a_first_start_before_anything_is_created(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let db = crate::app_db::AppDb::create(&env, backend, 1).await;
    let mut config = env.config.clone();
    let mut target = db.target("users.token");
    target.table = "no_such_table".into();
    config.targets.push(target);
    let message = failed_start_leaves_data_folder_as_it_was(&config).await;
    assert!(message.contains("no_such_table"), "{message}");
    if backend == Backend::Sqlite {
        assert!(!config.data_dir.exists(), "{message}");
    }
    // Seeding happens after the check: no managed key exists yet.
    let s = env.start().await;
    s.stop().await;
    env.finish().await;
}

async fn a_wrong_root_key_leaves_the_data_folder_as_it_was(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.start().await.stop().await;
    let mut wrong = env.config.clone();
    wrong.keystore.master_key = Some(SecretString::from(random_root_key()));
    let message = failed_start_leaves_data_folder_as_it_was(&wrong).await;
    assert!(message.contains("does not open this keystore"), "{message}");
    env.finish().await;
}

/// Nothing listens on port 1 of the loopback: the keystore's PostgreSQL is unreachable.
#[tokio::test]
async fn an_unreachable_keystore_database_fails_fast_naming_its_address() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let mut config = env.config.clone();
    config.database.url = Some(SecretString::from(
        "postgres://rekey:hunter2@127.0.0.1:1/keys".to_owned(),
    ));
    config.keystore.master_key = Some(SecretString::from(random_root_key()));
    let started = std::time::Instant::now();
    let message = failed_start_leaves_data_folder_as_it_was(&config).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "{message}"
    );
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1:1: "),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!message.contains("pool timed out"), "{message}");
    env.finish().await;
}

/// A migration target whose PostgreSQL is unreachable stops startup within seconds.
#[tokio::test]
async fn an_unreachable_target_database_fails_fast_naming_its_address() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let db = crate::app_db::AppDb::create(&env, Backend::Sqlite, 1).await;
    let mut config = env.config.clone();
    let mut target = db.target("users.token");
    target.database_url = SecretString::from("postgres://app:hunter2@127.0.0.1:1/app".to_owned());
    config.targets.push(target);
    let started = std::time::Instant::now();
    let message = failed_start_leaves_data_folder_as_it_was(&config).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "{message}"
    );
    assert!(message.contains("users.token"), "{message}");
    assert!(message.contains("at 127.0.0.1:1: "), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    env.finish().await;
}

crate::on_every_backend!(
    a_taken_http_port_stops_a_first_start_before_anything_is_created,
    a_missing_target_table_stops_a_first_start_before_anything_is_created,
    a_wrong_root_key_leaves_the_data_folder_as_it_was,
    ciphertexts_survive_a_restart,
    a_wrong_root_key_refuses_to_start,
    legacy_environment_keys_become_version_1,
    declared_keys_are_created_with_their_policy,
    health_and_reflection_answer,
    shutdown_is_graceful_and_the_port_is_released,
    a_misconfigured_migration_target_stops_startup,
);
