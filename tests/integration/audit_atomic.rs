//! The audit row of a change commits with the change: a server killed mid-flight leaves no
//! rotation or token without its row, a database that refuses the audit write refuses the
//! change too, and a key rollback is audited.

use std::time::Duration;

use rekey::proto::{GetStatusResponse, ListAuditRequest, VerifyAuditRequest};
use tonic::Code;

use crate::processes::Replica;
use crate::support::{token_request, Backend, TestEnv};

crate::on_every_backend!(
    a_killed_server_leaves_no_change_without_its_audit_row,
    a_refused_audit_write_refuses_the_change,
    a_key_rollback_is_audited,
);

const KEY: &str = "TOKEN_ENCRYPTION";

fn audit_of(operation: &str) -> ListAuditRequest {
    ListAuditRequest {
        operation: operation.into(),
        limit: 10_000,
        ..Default::default()
    }
}

fn versions(status: &GetStatusResponse) -> Vec<u32> {
    status.keys[0].versions.iter().map(|v| v.version).collect()
}

async fn a_killed_server_leaves_no_change_without_its_audit_row(backend: Backend) {
    let env = TestEnv::new(backend).await;
    for round in 0..4u64 {
        let replica = Replica::start(&env, &format!("r{round}"), "", &[]).await;
        // Rotations and token creations in flight when the process dies.
        let mut tasks = Vec::new();
        for worker in 0..2 {
            let mut clients = replica.clients();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let _ = clients.try_rotate_forced(KEY).await;
                    let name = format!("t{worker}-{i}");
                    let _ = clients
                        .try_create_token(token_request(&name, "client"))
                        .await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(150 + 90 * round)).await;
        replica.kill9();
        for task in tasks {
            task.abort();
        }
    }

    let mut s = env.start().await;
    let rotations = s.list_audit(audit_of("Rotate (emergency)")).await.records;
    let status = s.status(KEY).await;
    let rotated: Vec<u32> = versions(&status).into_iter().filter(|v| *v > 1).collect();
    assert!(
        rotated.len() >= 4,
        "too few rotations to mean anything: {rotated:?}"
    );
    for version in &rotated {
        assert!(
            rotations
                .iter()
                .any(|r| r.key_name == KEY && r.key_version == *version && r.outcome == "success"),
            "version {version} of {KEY} has no audit row"
        );
    }
    let creations = s.list_audit(audit_of("CreateToken")).await.records;
    let tokens = s.list_tokens().await.tokens;
    assert!(tokens.len() >= 4, "too few tokens to mean anything");
    for token in &tokens {
        assert!(
            creations
                .iter()
                .any(|r| r.outcome == "success" && r.detail.ends_with(&token.token_id)),
            "token {} has no audit row",
            token.token_id
        );
    }
    s.stop().await;
    env.finish().await;
}

/// Makes the database itself refuse every new audit row, through a connection of its own.
async fn refuse_audit_writes(env: &TestEnv, backend: Backend) -> sqlx::AnyPool {
    let db = env.keystore_pool().await;
    let statements: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit device full'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit device full'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
    };
    for statement in statements {
        sqlx::query(statement).execute(&db).await.unwrap();
    }
    db
}

async fn a_refused_audit_write_refuses_the_change(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    s.rotate_forced(KEY).await;
    let before = s.status(KEY).await;
    let tokens_before = s.list_tokens().await.tokens.len();
    let events_before = s.list_events(KEY, "").await.events.len();
    let db = refuse_audit_writes(&env, backend).await;

    let expect_refused = |what: &str, status: tonic::Status| {
        assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
        assert!(
            status
                .message()
                .contains("audit trail could not record this operation")
                && status.message().contains("nothing was changed"),
            "{what}: {}",
            status.message()
        );
    };
    expect_refused("Rotate", s.try_rotate_forced(KEY).await.unwrap_err());
    expect_refused("Rollback", s.try_rollback(KEY).await.unwrap_err());
    let created = s.try_create_token(token_request("refused", "client")).await;
    expect_refused("CreateToken", created.unwrap_err());

    let after = s.status(KEY).await;
    assert_eq!(
        after.keys[0].primary_version,
        before.keys[0].primary_version
    );
    assert_eq!(versions(&after), versions(&before));
    assert_eq!(s.list_tokens().await.tokens.len(), tokens_before);
    assert_eq!(s.list_events(KEY, "").await.events.len(), events_before);

    // Once the audit trail takes rows again, so do the operations, on an intact chain.
    sqlx::query("DROP TRIGGER refuse_audit ON audit_log")
        .execute(&db)
        .await
        .or(sqlx::query("DROP TRIGGER refuse_audit").execute(&db).await)
        .unwrap();
    s.rotate_forced(KEY).await;
    let verified = s
        .admin
        .verify_audit(VerifyAuditRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verified.intact, "{verified:?}");
    db.close().await;
    s.stop().await;
    env.finish().await;
}

async fn a_key_rollback_is_audited(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    s.rotate_forced(KEY).await;
    let rolled = s.rollback(KEY).await;
    let rows = s.list_audit(audit_of("Rollback")).await.records;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].key_name, KEY);
    assert_eq!(rows[0].key_version, rolled.primary_version);
    assert_eq!(rows[0].outcome, "success");
    // A refused rollback (version 1 has no earlier version) is audited as failed.
    s.try_rollback(KEY).await.unwrap_err();
    let rows = s.list_audit(audit_of("Rollback")).await.records;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].outcome, "failed");
    s.stop().await;
    env.finish().await;
}
