//! The `rekey` admin command line, run as the real binary against an in-process server:
//! tables and JSON, rotation with `--wait`, tokens, audit, reports, and the exit codes that
//! scripts rely on (0 ok, 1 failed, 3 nothing done, 4 not found, 5 denied, 6 unreachable).

use std::process::Command;

use rekey::proto::ListAuditRequest;
use rekey::rotation::BatchSize;
use secrecy::ExposeSecret;
use serde_json::Value;
use tonic::Code;

use crate::app_db::{AppDb, KEY};
use crate::migration::env_with_legacy_key;
use crate::support::{Backend, Clients, TestEnv, TestServer};

const KEYS: [&str; 5] = [
    "TOKEN_ENCRYPTION",
    "DATABASE_ENCRYPTION",
    "FILE_ENCRYPTION",
    "SESSION_ENCRYPTION",
    "API_SIGNATURE",
];

pub(crate) struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Runs `rekey args…` with REKEY_ADDR set to `addr` and REKEY_TOKEN to `token` (unset when
/// None), off the async runtime so the in-process server keeps serving.
async fn rekey_at(addr: &str, token: Option<&str>, args: &[&str]) -> Run {
    rekey_at_with(addr, token, &[], args).await
}

/// [`rekey_at`] with more environment variables (REKEY_TOKEN_FILE is unset unless given).
async fn rekey_at_with(
    addr: &str,
    token: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(args)
        .env("REKEY_ADDR", addr)
        .env_remove("REKEY_TOKEN_FILE")
        .envs(env.iter().copied());
    match token {
        Some(token) => command.env("REKEY_TOKEN", token),
        None => command.env_remove("REKEY_TOKEN"),
    };
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the rekey binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub(crate) fn addr(s: &TestServer) -> String {
    format!("http://{}", s.server.grpc_addr())
}

pub(crate) fn admin_token(env: &TestEnv) -> &str {
    env.config.admin_token.as_ref().unwrap().expose_secret()
}

/// `rekey args…` as the admin.
pub(crate) async fn rekey(env: &TestEnv, s: &TestServer, args: &[&str]) -> Run {
    rekey_at(&addr(s), Some(admin_token(env)), args).await
}

#[track_caller]
fn assert_exit(run: &Run, code: i32) {
    assert_eq!(run.code, code, "{run:?}");
}

/// The first word of `text` that starts with `prefix`.
fn word<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}… in {text}"))
}

async fn health_needs_no_token_and_fails_when_stopped(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let address = addr(&s);
    let run = rekey_at(&address, None, &["health"]).await;
    assert_exit(&run, 0);
    assert_eq!(run.stdout.trim(), "SERVING");
    s.stop().await;
    let run = rekey_at(&address, None, &["health"]).await;
    assert_exit(&run, 6);
    env.finish().await;
}

async fn status_lists_every_key_as_a_table_and_as_json(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;

    let run = rekey(&env, &s, &["status"]).await;
    assert_exit(&run, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("KEY "), "{run:?}");
    assert!(lines[0].contains("NEXT ROTATION DUE"), "{run:?}");
    assert_eq!(lines.len(), 6, "a header and five keys: {run:?}");
    for key in KEYS {
        assert!(run.stdout.contains(key), "{key}: {run:?}");
    }
    assert!(run.stdout.contains("1:active"), "{run:?}");

    let run = rekey(&env, &s, &["status", "--json"]).await;
    assert_exit(&run, 0);
    // The HTTP API's shape: {generated_at, keys}, the runbook's key_type.
    let status = run.json();
    assert!(status["generated_at"].is_string(), "{run:?}");
    let keys = status["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 5);
    assert!(keys.iter().all(|k| k["alert_level"] == "OK"), "{run:?}");
    assert!(keys.iter().any(|k| k["key_type"] == "API_SIGNATURE"
        && k["purpose"] == "sign_verify"
        && k["versions"][0]["state"] == "active"));

    let run = rekey(&env, &s, &["--json", "status", "FILE_ENCRYPTION"]).await;
    assert_exit(&run, 0);
    assert_eq!(run.json()["keys"][0]["key_type"], "FILE_ENCRYPTION");

    let run = rekey(&env, &s, &["schedule"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains("SESSION_ENCRYPTION"), "{run:?}");
    s.stop().await;
    env.finish().await;
}

async fn rotate_waits_for_the_migration_and_reports_not_due(backend: Backend) {
    let rows = 3_000;
    let mut env = env_with_legacy_key(backend).await;
    let db = AppDb::create(&env, backend, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(100).unwrap());
    // About 4 s of migration: long enough for the CLI, even on a loaded machine, to see it run.
    target.rate_limit = Some(750);
    env.config.targets.push(target);
    let s = env.start().await;

    let run = rekey(&env, &s, &["impact", KEY, "--json"]).await;
    assert_exit(&run, 0);
    assert_eq!(run.json()["records_to_migrate"], 0, "v1 is the primary");
    assert_eq!(run.json()["versions"][0]["records"], rows);

    let run = rekey(&env, &s, &["rotate", KEY, "--force", "--wait"]).await;
    assert_exit(&run, 0);
    let event_id = word(&run.stdout, "evt-").to_owned();
    assert!(run.stdout.contains("version 1 -> 2"), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("{rows} of {rows} records migrated")),
        "{run:?}"
    );
    // stderr is not a terminal here: one progress line per second, and the last one.
    let progress: Vec<&str> = run.stderr.lines().collect();
    assert!(
        progress.len() >= 2,
        "the rate limit makes it last over a second: {run:?}"
    );
    assert!(!progress[0].ends_with("completed"), "{run:?}");
    assert!(
        progress
            .last()
            .unwrap()
            .contains(&format!("{rows}/{rows} 100%")),
        "{run:?}"
    );
    assert!(progress.last().unwrap().ends_with("completed"), "{run:?}");
    assert!(progress.iter().all(|l| l.contains("records/s")), "{run:?}");

    let run = rekey(&env, &s, &["events", "show", &event_id]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains("status:      completed"), "{run:?}");
    assert!(run.stdout.contains("secrets.token"), "{run:?}");
    let run = rekey(&env, &s, &["events", "show", &event_id, "--json"]).await;
    assert_eq!(run.json()["status"], "completed");
    assert_eq!(run.json()["totals"]["migrated"], rows);
    assert_eq!(run.json()["trigger"], "emergency");

    let run = rekey(&env, &s, &["events", "list", "--key", KEY, "--json"]).await;
    assert_exit(&run, 0);
    assert_eq!(run.json()[0]["event_id"], event_id.as_str());
    let run = rekey(&env, &s, &["events", "list", "--status", "completed"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains(&event_id), "{run:?}");

    // Not forced and not due: nothing happens, exit 3.
    let run = rekey(&env, &s, &["rotate", KEY]).await;
    assert_exit(&run, 3);
    assert!(run.stdout.starts_with("not due: "), "{run:?}");
    assert!(run.stdout.contains("--force"), "{run:?}");
    let run = rekey(&env, &s, &["events", "list", "--json"]).await;
    assert_eq!(run.json().as_array().unwrap().len(), 1, "no new event");

    // Rolling the event back moves every record back to version 1.
    let run = rekey(&env, &s, &["events", "rollback", &event_id, "--wait"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains("rolled_back"), "{run:?}");
    let run = rekey(&env, &s, &["impact", KEY, "--json"]).await;
    assert_eq!(run.json()["primary_version"], 1);
    assert_eq!(run.json()["records_to_migrate"], 0);

    // A finished event cannot be retried: FAILED_PRECONDITION is exit 1.
    let run = rekey(&env, &s, &["events", "retry", &event_id]).await;
    assert_exit(&run, 1);
    assert!(run.stderr.starts_with("rekey: error: "), "{run:?}");
    s.stop().await;
    env.finish().await;
}

async fn key_rollback_makes_the_previous_version_primary(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let run = rekey(&env, &s, &["rollback", "SESSION_ENCRYPTION"]).await;
    assert_exit(&run, 1);
    assert!(run.stderr.contains("only version 1"), "{run:?}");

    let run = rekey(
        &env,
        &s,
        &["rotate", "SESSION_ENCRYPTION", "--force", "--json"],
    )
    .await;
    assert_exit(&run, 0);
    // The HTTP API's POST /schedule shape: {rotated, event, reason}.
    assert_eq!(run.json()["event"]["to_version"], 2);
    let run = rekey(&env, &s, &["rollback", "SESSION_ENCRYPTION", "--wait"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains("version 1 is primary again"), "{run:?}");
    let run = rekey(&env, &s, &["status", "SESSION_ENCRYPTION", "--json"]).await;
    assert_eq!(run.json()["keys"][0]["primary_version"], 1);
    s.stop().await;
    env.finish().await;
}

async fn tokens_are_created_listed_and_revoked(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let run = rekey(
        &env,
        &s,
        &[
            "token",
            "create",
            "--name",
            "billing",
            "--role",
            "client",
            "--keys",
            KEY,
            "--operations",
            "encrypt",
            "--expires-in-days",
            "30",
        ],
    )
    .await;
    assert_exit(&run, 0);
    let token_id = word(&run.stdout, "tok_").to_owned();
    let secret = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("{run:?}"))
        .trim()
        .to_owned();

    let mut client = Clients::new(&s.channel, &secret);
    let ct = client
        .try_encrypt(KEY, b"card")
        .await
        .expect("the new token encrypts")
        .ciphertext;
    let denied = client.try_decrypt(&ct).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "encrypt only");

    let run = rekey(&env, &s, &["token", "list"]).await;
    assert_exit(&run, 0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&token_id))
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        line.contains("billing") && line.contains("client"),
        "{line}"
    );
    assert!(line.contains(KEY) && line.contains("encrypt"), "{line}");
    assert!(!run.stdout.contains(&secret), "no secrets in the list");
    let run = rekey(&env, &s, &["token", "list", "--json"]).await;
    assert!(!run.stdout.contains(&secret));
    let listed = run.json();
    let info = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == token_id.as_str())
        .unwrap();
    assert!(info["expires_at"].is_string());

    // A client token may not use the admin command line: exit 5.
    let run = rekey_at(&addr(&s), Some(&secret), &["status"]).await;
    assert_exit(&run, 5);

    let run = rekey(&env, &s, &["token", "revoke", &token_id]).await;
    assert_exit(&run, 0);
    let err = client.try_encrypt(KEY, b"card").await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let run = rekey(&env, &s, &["token", "revoke", "tok_000000000000"]).await;
    assert_exit(&run, 4);
    s.stop().await;
    env.finish().await;
}

async fn audit_verify_and_list(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let run = rekey(
        &env,
        &s,
        &["rotate", "FILE_ENCRYPTION", "--force", "--json"],
    )
    .await;
    assert_exit(&run, 0);
    let event_id = run.json()["event"]["event_id"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("evt-"), "{run:?}");

    // The rotation's audit row names its event, through gRPC and `rekey audit list`.
    let rows = s
        .list_audit(ListAuditRequest {
            key_name: "FILE_ENCRYPTION".into(),
            operation: "Rotate (emergency)".into(),
            ..Default::default()
        })
        .await
        .records;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event_id, event_id);
    let run = rekey(
        &env,
        &s,
        &[
            "audit",
            "list",
            "--operation",
            "Rotate (emergency)",
            "--json",
        ],
    )
    .await;
    assert_exit(&run, 0);
    assert_eq!(run.json()[0]["event_id"], event_id.as_str(), "{run:?}");
    let run = rekey(
        &env,
        &s,
        &["audit", "list", "--operation", "Rotate (emergency)"],
    )
    .await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains(" EVENT "), "{run:?}");
    assert!(run.stdout.contains(&event_id), "{run:?}");

    let run = rekey(&env, &s, &["audit", "verify"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.contains("rows checked: intact"), "{run:?}");
    let run = rekey(&env, &s, &["audit", "verify", "--json"]).await;
    assert_exit(&run, 0);
    assert_eq!(run.json()["intact"], true);
    assert!(run.json()["rows"].as_u64().unwrap() > 0);

    let run = rekey(
        &env,
        &s,
        &["audit", "list", "--key", "FILE_ENCRYPTION", "--json"],
    )
    .await;
    assert_exit(&run, 0);
    let records = run.json();
    assert!(!records.as_array().unwrap().is_empty(), "{run:?}");
    assert!(records
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["key_name"] == "FILE_ENCRYPTION"));
    let run = rekey(&env, &s, &["audit", "list", "--limit", "3"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.starts_with("SEQ "), "{run:?}");
    assert!(run.stdout.lines().count() <= 4, "{run:?}");

    // Someone with database access edits a row: verify names it and exits 1.
    let db = env.keystore_pool().await;
    if backend == Backend::Postgres {
        sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            .execute(&db)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_log SET principal = 'someone-else' WHERE seq = 1")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let run = rekey(&env, &s, &["audit", "verify"]).await;
    assert_exit(&run, 1);
    assert!(
        run.stdout.contains("TAMPERED") || run.stderr.contains("TAMPERED"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("row 1") || run.stdout.contains("seq 1"),
        "{run:?}"
    );
    s.stop().await;
    env.finish().await;
}

async fn reports_come_as_json_markdown_and_csv(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let run = rekey(
        &env,
        &s,
        &["rotate", "DATABASE_ENCRYPTION", "--force", "--wait"],
    )
    .await;
    assert_exit(&run, 0);

    let run = rekey(
        &env,
        &s,
        &["report", "--kind", "quarterly", "--format", "csv"],
    )
    .await;
    assert_exit(&run, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("key_type,"), "{run:?}");
    assert_eq!(lines.len(), 6, "a header and one row per key: {run:?}");
    for key in KEYS {
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with(&format!("{key},")))
                .count(),
            1,
            "{key}: {run:?}"
        );
    }

    let run = rekey(&env, &s, &["report", "--format", "markdown"]).await;
    assert_exit(&run, 0);
    assert!(run.stdout.starts_with("# "), "{run:?}");
    assert!(run.stdout.contains("Period: "), "{run:?}");
    assert!(
        run.stdout.contains("| DATABASE_ENCRYPTION |")
            || run.stdout.contains("DATABASE_ENCRYPTION")
    );

    let run = rekey(&env, &s, &["report", "--json"]).await;
    assert_exit(&run, 0);
    let report = run.json();
    assert_eq!(report["kind"], "post_rotation");
    assert_eq!(report["events"][0]["key_type"], "DATABASE_ENCRYPTION");

    let out = env.dir().join("weekly.csv");
    let run = rekey(
        &env,
        &s,
        &[
            "report",
            "--kind",
            "weekly",
            "--format",
            "csv",
            "--from",
            "2020-01-01",
            "--output",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_exit(&run, 0);
    assert!(run.stdout.is_empty(), "{run:?}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("key_type,primary_version,"), "{csv}");
    assert_eq!(csv.lines().count(), 6, "{csv}");

    let run = rekey(&env, &s, &["report", "--from", "not-a-time"]).await;
    assert_exit(&run, 2);
    s.stop().await;
    env.finish().await;
}

async fn failures_have_their_own_exit_codes(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;

    let run = rekey_at(&addr(&s), Some("not-a-real-token"), &["status"]).await;
    assert_exit(&run, 5);
    assert!(run.stderr.starts_with("rekey: error: "), "{run:?}");
    assert!(!run.stderr.contains("not-a-real-token"), "{run:?}");

    let run = rekey_at(&addr(&s), None, &["status"]).await;
    assert_exit(&run, 5);
    assert!(run.stderr.contains("REKEY_TOKEN"), "{run:?}");

    // --token-file beats REKEY_TOKEN.
    let file = env.dir().join("token");
    std::fs::write(&file, format!("{}\n", admin_token(&env))).unwrap();
    let path = file.to_str().unwrap();
    let run = rekey_at(&addr(&s), Some("wrong"), &["status", "--token-file", path]).await;
    assert_exit(&run, 0);
    // So does REKEY_TOKEN_FILE, as in the client libraries; and --token-file beats that.
    let with_file = [("REKEY_TOKEN_FILE", path)];
    let run = rekey_at_with(&addr(&s), Some("wrong"), &with_file, &["status"]).await;
    assert_exit(&run, 0);
    let wrong = env.dir().join("wrong-token");
    std::fs::write(&wrong, "rekey_000000000000_wrong\n").unwrap();
    let wrong = wrong.to_str().unwrap();
    let run = rekey_at_with(
        &addr(&s),
        None,
        &with_file,
        &["status", "--token-file", wrong],
    )
    .await;
    assert_exit(&run, 5);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = rekey(
        &env,
        &s,
        &["status", "--addr", &format!("http://127.0.0.1:{port}")],
    )
    .await;
    assert_exit(&run, 6);
    assert!(
        run.stderr.starts_with("rekey: error: cannot reach"),
        "{run:?}"
    );

    let run = rekey(&env, &s, &["events", "show", "evt-nope"]).await;
    assert_exit(&run, 4);
    assert!(run.stderr.starts_with("rekey: error: "), "{run:?}");
    assert!(run.stderr.contains("evt-nope"), "{run:?}");
    let run = rekey(&env, &s, &["status", "NO_SUCH_KEY"]).await;
    assert_exit(&run, 4);

    let run = rekey(&env, &s, &["events", "list", "--status", "sleeping"]).await;
    assert_exit(&run, 2);
    let run = rekey(&env, &s, &["status", "bad key!"]).await;
    assert_exit(&run, 2);
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    health_needs_no_token_and_fails_when_stopped,
    status_lists_every_key_as_a_table_and_as_json,
    rotate_waits_for_the_migration_and_reports_not_due,
    key_rollback_makes_the_previous_version_primary,
    tokens_are_created_listed_and_revoked,
    audit_verify_and_list,
    reports_come_as_json_markdown_and_csv,
    failures_have_their_own_exit_codes,
);

/// Runs `rekey serve args…` in `dir` and returns its stderr; it must fail at startup.
async fn failed_serve(dir: &std::path::Path, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--http-listen", "off"])
        .args(args)
        .current_dir(dir);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the rekey binary runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[tokio::test]
async fn startup_errors_lead_with_the_cause_and_say_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = failed_serve(dir.path(), &["--config", "missing.toml"]).await;
    assert_eq!(missing.matches("os error 2").count(), 1, "{missing}");
    assert!(
        missing.starts_with("rekey: error: cannot read config file missing.toml: "),
        "{missing}"
    );

    std::fs::write(
        dir.path().join("x.toml"),
        "listen_adress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let unknown = failed_serve(dir.path(), &["--config", "x.toml"]).await;
    let first = unknown.lines().next().unwrap();
    assert!(
        first.starts_with("rekey: error: unknown field `listen_adress` in config file x.toml line 1; expected one of `listen`"),
        "{unknown}"
    );
    assert!(unknown.contains("1 | listen_adress"), "{unknown}");

    std::fs::write(
        dir.path().join("c.toml"),
        "[rotation]\nschedule_cron = \"0 61 * * * *\"\n",
    )
    .unwrap();
    let cron = failed_serve(dir.path(), &["--config", "c.toml"]).await;
    let first = cron.lines().next().unwrap();
    assert!(first.contains("\"0 61 * * * *\""), "{cron}");
    assert!(first.contains("Minutes must be less than"), "{cron}");

    // The root key opens first (a shared keystore needs one configured), then the database.
    std::fs::write(
        dir.path().join("root.key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("k.toml"),
        "[keystore]\nmaster_key_file = \"root.key\"\n",
    )
    .unwrap();
    let unreachable = failed_serve(
        dir.path(),
        &[
            "--config",
            "k.toml",
            "--database-url",
            "postgres://rekey:hunter2@127.0.0.1:1/keys",
        ],
    )
    .await;
    assert!(
        unreachable.contains("cannot connect to PostgreSQL at 127.0.0.1:1: "),
        "{unreachable}"
    );
    assert_eq!(unreachable.matches("refused").count(), 1, "{unreachable}");
    assert!(!unreachable.contains("hunter2"), "{unreachable}");
    // None of these failed starts created the default data folder.
    assert!(!dir.path().join("rekey-data").exists());
}

#[tokio::test]
async fn serve_help_lists_server_options_only() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command.args(["serve", "--help"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("--http-listen"), "{help}");
    for client_only in [
        "--addr",
        "--token-file",
        "--ca-file",
        "--json",
        "Client options",
    ] {
        assert!(!help.contains(client_only), "{client_only} in: {help}");
    }
    // The client subcommands keep them.
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command.args(["status", "--help"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("--addr") && help.contains("--token-file"),
        "{help}"
    );
}
