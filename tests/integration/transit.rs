//! Vault Transit compatibility beyond what hvac drives (tests/transit/): a key imported from a
//! Vault backup with `rekey import vault-transit` (the vectors of
//! tests/vectors/vault-transit-v1.json, made by an independent implementation), the values
//! Vault made under it decrypting through the Transit API and gRPC Decrypt, and a column of
//! them migrating to Rekey's format in Vault's text form.

use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rekey::config::{KeyConfig, PurposeConfig};
use rekey::rotation::targets::{Encoding, TargetConfig};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{json, Value};
use sqlx::Row as _;
use tonic::Code;

use crate::support::{random_root_key, Backend, TestEnv, TestServer};

const VAULT_KEY: &str = "legacy-payments";

fn vectors() -> Value {
    let text = include_str!("../vectors/vault-transit-v1.json");
    serde_json::from_str(text).expect("the vectors are JSON")
}

fn backup<'a>(vectors: &'a Value, name: &str) -> &'a Value {
    vectors["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("no backup {name}"))
}

fn cases<'a>(vectors: &'a Value, backup: &str, kind: &str) -> Vec<&'a Value> {
    vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backup"] == backup && c["type"] == kind)
        .collect()
}

fn bytes(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().unwrap_or_default()).unwrap()
}

/// `rekey import vault-transit` of `backup_text` into `env`'s keystore, as an operator runs it.
fn import(env: &TestEnv, backup_text: &str, extra: &[&str]) -> Output {
    let file = env.dir().join("vault.backup");
    std::fs::write(&file, backup_text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(["import", "vault-transit", "--backup"])
        .arg(&file)
        .args(extra)
        .arg("--data-dir")
        .arg(&env.config.data_dir)
        .env(
            "REKEY_MASTER_KEY",
            env.config
                .keystore
                .master_key
                .as_ref()
                .unwrap()
                .expose_secret(),
        )
        .env_remove("REKEY_DATABASE_URL")
        .env_remove("REKEY_CONFIG");
    if let Some(url) = env.database_url() {
        command.arg("--database-url").arg(url);
    }
    command.output().expect("rekey runs")
}

/// POST of `body` to the Transit route `path` with the admin token: status and JSON body.
async fn transit(s: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    let url = format!(
        "http://{}/v1/transit/{path}",
        s.server.http_addr().expect("HTTP enabled")
    );
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-s", "-X", "POST", "-H"])
            .arg(format!("X-Vault-Token: {token}"))
            .args(["-d", &body.to_string(), "-w", "\n%{http_code}", &url])
            .output()
            .expect("curl runs");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.trim_end().rsplit_once('\n').expect("a status line");
        (code.parse().unwrap(), serde_json::from_str(body).unwrap())
    })
    .await
    .unwrap()
}

async fn imported_vault_values_decrypt_and_migrate(backend: Backend) {
    let vectors = vectors();
    let mut env = TestEnv::with(backend, |c| {
        c.keystore.master_key = Some(SecretString::from(random_root_key()));
    })
    .await;
    // A first start creates the keystore; the import runs beside it (then with it stopped).
    env.start().await.stop().await;

    // Backups Rekey cannot take are refused with the reason, importing nothing.
    for refused in vectors["backups"].as_array().unwrap() {
        if refused["importable"] == true {
            continue;
        }
        let out = import(&env, refused["backup"].as_str().unwrap(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: {stderr}", refused["name"]);
        assert!(
            stderr.contains("cannot import") || stderr.contains("only aes256-gcm96"),
            "{}: {stderr}",
            refused["name"]
        );
    }
    // The JSON of Vault's HTTP answer is taken as well as the bare backup string.
    let payments = backup(&vectors, VAULT_KEY);
    let answer = payments["http_response"].to_string();
    let out = import(&env, &answer, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 versions (primary 3, 2 deprecated, 0 retired)"),
        "{stdout}"
    );
    let again = import(&env, payments["backup"].as_str().unwrap(), &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let archived = backup(&vectors, "legacy-archived");
    let out = import(&env, archived["backup"].as_str().unwrap(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An application column of Vault's values (base64 text, associated data in `owner`).
    let db = VaultColumn::create(&env, backend).await;
    let decrypts = cases(&vectors, VAULT_KEY, "decrypt");
    for (id, case) in decrypts.iter().enumerate() {
        let ad = String::from_utf8(bytes(&case["associated_data_base64"])).unwrap();
        db.insert(id as i64 + 1, case["ciphertext"].as_str().unwrap(), &ad)
            .await;
    }
    for name in [VAULT_KEY, "legacy-archived"] {
        env.config.keys.push(KeyConfig {
            name: name.into(),
            purpose: PurposeConfig::EncryptDecrypt,
            rotation_interval_days: 90,
            grace_period_days: 30,
        });
    }
    env.config.targets.push(db.target());
    let mut s = env.start().await;
    let token = env.admin_token();

    // Every value Vault made decrypts through Transit and through gRPC with key_name.
    for case in &decrypts {
        let ciphertext = case["ciphertext"].as_str().unwrap();
        let (status, body) = transit(
            &s,
            &token,
            &format!("decrypt/{VAULT_KEY}"),
            json!({"ciphertext": ciphertext, "associated_data": case["associated_data_base64"]}),
        )
        .await;
        assert_eq!(status, 200, "{}: {body}", case["id"]);
        assert_eq!(
            body["data"]["plaintext"], case["plaintext_base64"],
            "{}",
            case["id"]
        );
        let ad = bytes(&case["associated_data_base64"]);
        let grpc = s
            .try_decrypt_named(ciphertext.as_bytes(), &ad, VAULT_KEY)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", case["id"]));
        assert_eq!(grpc.plaintext, bytes(&case["plaintext_base64"]));
        assert_eq!(
            grpc.key_version,
            case["key_version"].as_u64().unwrap() as u32
        );
        // Without the key's name, gRPC says what is missing.
        let unnamed = s
            .try_decrypt_ad(ciphertext.as_bytes(), &ad)
            .await
            .unwrap_err();
        assert_eq!(unnamed.code(), Code::InvalidArgument);
        assert!(unnamed.message().contains("key_name"), "{unnamed:?}");
    }
    // Tampered, truncated, relabelled and unknown-version values are refused with a 400.
    for case in cases(&vectors, VAULT_KEY, "reject") {
        let (status, body) = transit(
            &s,
            &token,
            &format!("decrypt/{VAULT_KEY}"),
            json!({"ciphertext": case["ciphertext"], "associated_data": case["associated_data_base64"]}),
        )
        .await;
        assert_eq!(status, 400, "{}: {body}", case["id"]);
        assert!(body["errors"][0].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Below Vault's min_decryption_version the version was imported retired.
    for case in cases(&vectors, "legacy-archived", "decrypt") {
        let (status, body) = transit(
            &s,
            &token,
            "decrypt/legacy-archived",
            json!({"ciphertext": case["ciphertext"], "associated_data": case["associated_data_base64"]}),
        )
        .await;
        if case["below_min_decryption_version"] == true {
            assert_eq!(status, 400, "{}: {body}", case["id"]);
            assert!(body["errors"][0].as_str().unwrap().contains("retired"));
        } else {
            assert_eq!(status, 200, "{}: {body}", case["id"]);
            assert_eq!(body["data"]["plaintext"], case["plaintext_base64"]);
        }
    }

    // A rotation migrates the column: every value becomes a Rekey value of version 4, still
    // in Vault's text form, and decrypts to what Vault sealed.
    let event = s.force_rotation(VAULT_KEY).await;
    let done = s.wait_for_event(&event.event_id, "completed").await;
    let totals = done.totals.unwrap();
    let rows = decrypts.len() as u64;
    assert_eq!(
        (totals.total, totals.migrated, totals.failed),
        (rows, rows, 0)
    );
    for (id, case) in decrypts.iter().enumerate() {
        let stored = db.get(id as i64 + 1).await;
        assert!(stored.starts_with("vault:v4:"), "{stored}");
        let inner = B64.decode(&stored["vault:v4:".len()..]).unwrap();
        assert_eq!(&inner[..2], b"RK", "a Rekey value now");
        let (status, body) = transit(
            &s,
            &token,
            &format!("decrypt/{VAULT_KEY}"),
            json!({"ciphertext": stored, "associated_data": case["associated_data_base64"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["plaintext"], case["plaintext_base64"]);
    }
    // Rekey's values in Vault's form migrate like any other, keeping the form.
    let event = s.force_rotation(VAULT_KEY).await;
    let done = s.wait_for_event(&event.event_id, "completed").await;
    assert_eq!(done.totals.unwrap().migrated, rows);
    for (id, case) in decrypts.iter().enumerate() {
        let stored = db.get(id as i64 + 1).await;
        assert!(stored.starts_with("vault:v5:"), "{stored}");
        let ad = bytes(&case["associated_data_base64"]);
        let dec = s.decrypt_ad(stored.as_bytes(), &ad).await;
        assert_eq!(dec.plaintext, bytes(&case["plaintext_base64"]));
        assert_eq!((dec.key_name.as_str(), dec.key_version), (VAULT_KEY, 5));
    }
    s.stop().await;
    env.finish().await;
}

/// An application table holding Vault's text-form values in a text column.
struct VaultColumn {
    url: String,
    pool: sqlx::AnyPool,
}

impl VaultColumn {
    async fn create(env: &TestEnv, backend: Backend) -> Self {
        sqlx::any::install_default_drivers();
        let (url, connect) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", env.dir().join("vault-app.db").display());
                (url.clone(), format!("{url}?mode=rwc"))
            }
            Backend::Postgres => {
                let url = env.database_url().expect("postgres url");
                (url.clone(), url)
            }
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&connect)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE vault_values (id BIGINT PRIMARY KEY, token TEXT, owner TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        Self { url, pool }
    }

    async fn insert(&self, id: i64, token: &str, owner: &str) {
        let owner = (!owner.is_empty()).then_some(owner);
        sqlx::query("INSERT INTO vault_values (id, token, owner) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(token)
            .bind(owner)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    async fn get(&self, id: i64) -> String {
        sqlx::query("SELECT token FROM vault_values WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .get(0)
    }

    fn target(&self) -> TargetConfig {
        TargetConfig {
            name: "vault_values.token".into(),
            database_url: SecretString::from(self.url.clone()),
            table: "vault_values".into(),
            primary_key: "id".into(),
            column: "token".into(),
            encoding: Encoding::Base64,
            key: VAULT_KEY.into(),
            associated_data_column: Some("owner".into()),
            batch_size: None,
            rate_limit: None,
            parallelism: None,
        }
    }
}

crate::on_every_backend!(imported_vault_values_decrypt_and_migrate);
