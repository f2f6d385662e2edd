//! Retries against a real server that is not there yet: Decrypt (idempotent) is retried on
//! UNAVAILABLE until the server comes up; Rotate never is.

use std::sync::Arc;
use std::time::Duration;

use rekey::clock::SystemClock;
use rekey_client::proto::{DecryptRequest, RotateRequest};
use rekey_client::{Client, Error, RetryPolicy};

use super::{served, Recorder, KEY};
use crate::support::{Backend, TestEnv};

/// A free loopback port (bound, then released) for a server to start on later.
async fn free_addr() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn client_of(addr: std::net::SocketAddr, token: &str, recorder: &Recorder) -> Client {
    Client::builder(format!("http://{addr}"))
        .token(token)
        .observer(recorder.shared())
        .retry_policy(RetryPolicy {
            max_attempts: 30,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        })
        .connect_lazy()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_is_retried_on_unavailable_and_rotate_never() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let mut first = env.start().await;
    let ciphertext = first.encrypt(KEY, b"survives a restart").await.ciphertext;
    first.stop().await;

    // Rotate while nothing listens: one attempt, UNAVAILABLE, however generous the policy.
    let addr = free_addr().await;
    let recorder = Recorder::default();
    let client = client_of(addr, &env.admin_token(), &recorder);
    let err = client
        .rotate(RotateRequest {
            key_name: KEY.into(),
            force: true,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    assert_eq!(
        recorder.attempts("Rotate").len(),
        1,
        "Rotate is never retried"
    );

    // Decrypt while the server is down, and the server comes up on that address ~300 ms later.
    let config = env.config.clone();
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        rekey::server::start(&config, listener, Arc::new(SystemClock))
            .await
            .expect("server starts")
    });
    let plain = client
        .decrypt(DecryptRequest {
            ciphertext,
            associated_data: Vec::new(),
            key_name: String::new(),
        })
        .await
        .expect("decrypt succeeds once the server is back");
    assert_eq!(plain.plaintext, b"survives a restart");
    let attempts = recorder.attempts("Decrypt");
    assert!(attempts.len() > 1, "retried: {attempts:?}");
    assert!(attempts[..attempts.len() - 1]
        .iter()
        .all(|(_, e)| matches!(e, Some(Error::Unavailable { .. }))));
    assert!(attempts.last().unwrap().1.is_none());

    let server = starter.await.unwrap();
    assert_eq!(
        served(&server, "Rotate").await,
        0.0,
        "no Rotate reached the server"
    );
    server.shutdown().await.unwrap();
    env.finish().await;
}
