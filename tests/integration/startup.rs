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
    assert!(
        message.contains("root key does not open this keystore"),
        "{message}"
    );
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

    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"rekey.v1.KeyService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
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

crate::on_every_backend!(
    ciphertexts_survive_a_restart,
    a_wrong_root_key_refuses_to_start,
    legacy_environment_keys_become_version_1,
    declared_keys_are_created_with_their_policy,
    health_and_reflection_answer,
    shutdown_is_graceful_and_the_port_is_released,
    a_misconfigured_migration_target_stops_startup,
);
