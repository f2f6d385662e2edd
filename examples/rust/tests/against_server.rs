//! Runs the `records` program, as a user would, against a real Rekey server started in this
//! process (SQLite keystore in a scratch folder, 127.0.0.1:0), and reads the SQLite file it
//! wrote to check what is stored.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use rekey::clock::SystemClock;
use rekey::config::Config;
use rekey_client::proto::{CreateTokenRequest, TokenRole};
use rekey_client::{describe, Client, Kind};
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

const ADMIN_TOKEN: &str = "records-example-admin-token-0123456789";

/// Runs `records <args>` with the client's environment; returns its output.
async fn records(url: &str, token: &str, db: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_records"));
    command
        .args(args)
        .env("REKEY_ADDR", url)
        .env("REKEY_TOKEN", token)
        .env("RECORDS_DB", db)
        .env_remove("REKEY_TOKEN_FILE");
    tokio::task::spawn_blocking(move || command.output().expect("run records"))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_stored_encrypted_and_bound_to_their_row() {
    let scratch = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: scratch.path().join("data"),
        admin_token: Some(ADMIN_TOKEN.to_owned().into()),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&config, listener, Arc::new(SystemClock))
        .await
        .expect("the server starts");
    let url = format!("http://{}", server.grpc_addr());

    // The service gets a client token limited to its key and to what envelope encryption does.
    let admin = Client::builder(url.clone())
        .token(ADMIN_TOKEN)
        .connect()
        .await
        .unwrap();
    let token = admin
        .create_token(CreateTokenRequest {
            name: "records example".into(),
            role: TokenRole::Client as i32,
            key_names: vec!["TOKEN_ENCRYPTION".into()],
            operations: vec!["generate_data_key".into(), "decrypt".into()],
            expires_at: None,
        })
        .await
        .unwrap()
        .token
        .clone();

    let db = scratch.path().join("records.db");
    for (name, secret) in [
        ("alice", "4111 1111 1111 1111"),
        ("bob", "5500 0000 0000 0004"),
    ] {
        let out = records(&url, &token, &db, &["add", name, secret]).await;
        assert!(out.status.success(), "add {name}: {}", text(&out.stderr));
    }
    let out = records(&url, &token, &db, &["show"]).await;
    assert!(out.status.success(), "show: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "1\talice\t4111 1111 1111 1111\n2\tbob\t5500 0000 0000 0004\n"
    );

    // What SQLite holds: envelope ciphertexts of TOKEN_ENCRYPTION, no plaintext.
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query("SELECT secret FROM records ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for value in &stored {
        let info = describe(value).expect("a Rekey value");
        assert_eq!(info.kind, Kind::EnvelopeCiphertext);
        assert_eq!(info.key_name, "TOKEN_ENCRYPTION");
        assert!(!value.windows(4).any(|w| w == b"4111" || w == b"5500"));
    }

    // A ciphertext moved onto another row does not decrypt there: the row id is bound.
    sqlx::query("UPDATE records SET secret = ? WHERE id = 1")
        .bind(&stored[1])
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = records(&url, &token, &db, &["show"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("decrypt record 1"), "{stderr}");
    assert!(stderr.contains("failed authentication"), "{stderr}");
    assert!(
        !text(&out.stdout).contains("5500"),
        "no plaintext of a refused row is printed"
    );

    // A wrong token is refused with the server's answer, not a crash.
    let out = records(&url, "not-a-token", &db, &["add", "eve", "x"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).to_lowercase().contains("token"),
        "{}",
        text(&out.stderr)
    );

    server.shutdown().await.unwrap();
}
