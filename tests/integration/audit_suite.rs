//! Behaviour of the `AuditStore` backends (module of tests/integration/main.rs: `mod audit_suite;`).
//! Every case runs on a fresh SQLite file, and on a fresh PostgreSQL database in the PostgreSQL
//! suite (`cargo test -- --ignored`). Tampering cases edit the database directly, as an
//! attacker with database access could (on PostgreSQL after disabling the append-only trigger).

use crate::store_ctx::{Ctx, Opened};

use std::collections::BTreeSet;
use std::sync::Arc;

use rekey::storage::{
    record_hash, AuditEntry, AuditFilter, AuditRecord, AuditStore, ChainFault, Outcome,
    GENESIS_HASH,
};

/// Only PostgreSQL has the append-only trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
async fn postgres_append_only_trigger_refuses_changes() {
    crate::store_ctx::on_postgres(append_only_trigger_refuses_changes).await;
}

crate::storage_suite!(
    append_chains_from_genesis,
    list_round_trips_every_field,
    list_filters,
    concurrent_appenders_form_one_chain,
    verify_intact_log,
    verify_empty_log,
    verify_detects_edited_row,
    verify_detects_deleted_row,
    verify_detects_deleted_newest_row,
    verify_detects_reordered_pair,
    verify_detects_swapped_contents,
    verify_detects_rewritten_row,
    verify_detects_bad_genesis,
    verify_detects_unreadable_row,
);

// ---- harness ----

/// Audit-suite access to the case's database.
trait AuditCtx {
    async fn open(&self) -> Arc<dyn AuditStore>;
    async fn tamper(&self, unchecked: bool, statements: &[&str]);
}

impl AuditCtx for Ctx {
    async fn open(&self) -> Arc<dyn AuditStore> {
        match self.store().await {
            Opened::Sqlite(s) => s,
            Opened::Postgres(s) => s,
        }
    }

    /// Runs `statements` on one connection, as an attacker with write access to the database:
    /// on PostgreSQL the append-only trigger is disabled first, and `unchecked` also drops the
    /// CHECK on outcomes (on SQLite, ignores CHECK constraints).
    async fn tamper(&self, unchecked: bool, statements: &[&str]) {
        let setup: &[&str] = match (self, unchecked) {
            (Ctx::Sqlite(_), false) => &[],
            (Ctx::Sqlite(_), true) => &["PRAGMA ignore_check_constraints = ON"],
            (Ctx::Postgres(_), false) => {
                &["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"]
            }
            (Ctx::Postgres(_), true) => &[
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
                "ALTER TABLE audit_log DROP CONSTRAINT audit_log_outcome_check",
            ],
        };
        self.execute_with(setup, statements)
            .await
            .unwrap_or_else(|e| panic!("{statements:?}: {e}"));
    }
}

/// Entry `i` of a varied log.
fn entry(i: u64) -> AuditEntry {
    let mut e = AuditEntry::new(
        format!("tok-{}", i % 3),
        ["Rotate", "Encrypt", "auth.denied"][(i % 3) as usize],
        [Outcome::Success, Outcome::Success, Outcome::Denied][(i % 3) as usize],
    )
    .detail(format!("entry {i}"));
    if i.is_multiple_of(2) {
        e = e.key(format!("KEY_{}", i % 4), Some(i as u32));
    }
    if i.is_multiple_of(5) {
        e = e.records(i * 100).request_id(format!("req-{i}"));
    }
    e
}

/// A store with entries 1..=n appended at times 1_000, 2_000, …
async fn with_log(ctx: &Ctx, n: u64) -> Arc<dyn AuditStore> {
    let store = ctx.open().await;
    for i in 1..=n {
        store.append(&entry(i), i as i64 * 1_000).await.unwrap();
    }
    store
}

fn all() -> AuditFilter {
    AuditFilter {
        limit: AuditFilter::MAX_LIMIT,
        ..AuditFilter::default()
    }
}

async fn row(store: &dyn AuditStore, seq: i64) -> AuditRecord {
    let filter = AuditFilter {
        after_seq: Some(seq - 1),
        limit: 1,
        ..AuditFilter::default()
    };
    let rows = store.list(&filter).await.unwrap();
    assert_eq!(rows.first().map(|r| r.seq), Some(seq), "row {seq} exists");
    rows.into_iter().next().unwrap()
}

async fn fault(store: &dyn AuditStore) -> Option<ChainFault> {
    store.verify().await.unwrap().first_fault
}

fn seqs(rows: &[AuditRecord]) -> Vec<i64> {
    rows.iter().map(|r| r.seq).collect()
}

// ---- cases ----

async fn append_chains_from_genesis(ctx: Ctx) {
    let store = ctx.open().await;
    let first = store.append(&entry(1), 1_000).await.unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.at, 1_000);
    assert_eq!(first.entry, entry(1));
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(first.hash, record_hash(1, 1_000, &entry(1), GENESIS_HASH));
    let second = store.append(&entry(2), 900).await.unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(second.hash, record_hash(2, 900, &entry(2), &first.hash));
    assert_eq!(store.list(&all()).await.unwrap(), vec![first, second]);
}

async fn list_round_trips_every_field(ctx: Ctx) {
    let store = ctx.open().await;
    let full = AuditEntry {
        principal: "CN=ops.example.com,O=Example".into(),
        operation: "RollbackEvent".into(),
        key_name: Some("TOKEN_ENCRYPTION".into()),
        key_version: Some(u32::MAX),
        outcome: Outcome::Failed,
        records: Some(i64::MAX as u64),
        detail: "rollback refused: version 3 is retired — «ü»".into(),
        request_id: Some("9f0c-req".into()),
        event_id: Some("evt-0123456789abcdef01234567".into()),
    };
    let bare = AuditEntry::new("anonymous", "auth.denied", Outcome::Denied);
    let empty_strings = AuditEntry::new("", "", Outcome::Success)
        .key("", Some(0))
        .records(0)
        .request_id("");
    let mut appended = Vec::new();
    for (i, e) in [&full, &bare, &empty_strings].into_iter().enumerate() {
        appended.push(store.append(e, -5 + i as i64).await.unwrap());
    }
    let listed = store.list(&all()).await.unwrap();
    assert_eq!(listed, appended);
    assert_eq!(listed[0].entry, full);
    assert_eq!(listed[1].entry, bare);
    assert_eq!(listed[2].entry, empty_strings);
    assert_eq!(listed[0].at, -5);

    // NUL, which PostgreSQL TEXT refuses, is stored as U+FFFD on every backend.
    let nul = AuditEntry::new("cn=a\0b", "Op", Outcome::Success).detail("x\0y");
    let stored = store.append(&nul, 10).await.unwrap();
    assert_eq!(stored.entry.principal, "cn=a\u{FFFD}b");
    assert_eq!(stored.entry.detail, "x\u{FFFD}y");
    assert_eq!(row(&*store, 4).await, stored);

    // A record count beyond what the database stores is refused, not wrapped.
    let huge = AuditEntry::new("p", "o", Outcome::Success).records(u64::MAX);
    assert!(store.append(&huge, 11).await.is_err());

    let report = store.verify().await.unwrap();
    assert_eq!(report.first_fault, None);
    assert_eq!(report.rows, 4);
    assert_eq!(report.head_hash, stored.hash);
}

async fn list_filters(ctx: Ctx) {
    let store = ctx.open().await;
    let rows = [
        (1_000, "tok-a", "Rotate", Some("K1"), Outcome::Success),
        (2_000, "tok-b", "Encrypt", Some("K2"), Outcome::Success),
        (3_000, "scheduler", "Rotate", Some("K2"), Outcome::Success),
        (4_000, "tok-a", "auth.denied", None, Outcome::Denied),
        (5_000, "tok-b", "Rotate", Some("K1"), Outcome::Failed),
        // A replica with a slow clock: times need not follow seq.
        (500, "tok-a", "Encrypt", Some("K1"), Outcome::Success),
    ];
    for (at, principal, operation, key, outcome) in rows {
        let mut e = AuditEntry::new(principal, operation, outcome);
        if let Some(key) = key {
            e = e.key(key, Some(1));
        }
        store.append(&e, at).await.unwrap();
    }
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { seqs(&store.list(&filter).await.unwrap()) }
    };
    let f = AuditFilter::default;

    assert_eq!(list(f()).await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        list(AuditFilter { limit: 0, ..f() }).await,
        [1, 2, 3, 4, 5, 6]
    );
    // Time: from inclusive, to exclusive.
    assert_eq!(
        list(AuditFilter {
            from: Some(3_000),
            ..f()
        })
        .await,
        [3, 4, 5]
    );
    assert_eq!(
        list(AuditFilter {
            to: Some(3_000),
            ..f()
        })
        .await,
        [1, 2, 6]
    );
    let window = AuditFilter {
        from: Some(2_000),
        to: Some(5_000),
        ..f()
    };
    assert_eq!(list(window).await, [2, 3, 4]);
    // Key, principal, operation.
    let key = |k: &str| AuditFilter {
        key_name: Some(k.into()),
        ..f()
    };
    assert_eq!(list(key("K1")).await, [1, 5, 6]);
    assert_eq!(list(key("K2")).await, [2, 3]);
    assert_eq!(list(key("absent")).await, Vec::<i64>::new());
    let principal = AuditFilter {
        principal: Some("tok-a".into()),
        ..f()
    };
    assert_eq!(list(principal).await, [1, 4, 6]);
    let operation = AuditFilter {
        operation: Some("Rotate".into()),
        ..f()
    };
    assert_eq!(list(operation).await, [1, 3, 5]);
    // All at once.
    let combined = AuditFilter {
        from: Some(1_000),
        to: Some(6_000),
        key_name: Some("K1".into()),
        principal: Some("tok-b".into()),
        operation: Some("Rotate".into()),
        ..f()
    };
    let found = store.list(&combined).await.unwrap();
    assert_eq!(seqs(&found), [5]);
    assert_eq!(found[0].entry.outcome, Outcome::Failed);
    assert_eq!(found[0].entry.key_version, Some(1));
    // Limit and paging.
    assert_eq!(list(AuditFilter { limit: 2, ..f() }).await, [1, 2]);
    let page2 = AuditFilter {
        limit: 2,
        after_seq: Some(2),
        ..f()
    };
    assert_eq!(list(page2).await, [3, 4]);
    let past_end = AuditFilter {
        after_seq: Some(6),
        ..f()
    };
    assert_eq!(list(past_end).await, Vec::<i64>::new());
    let paged_key = AuditFilter {
        key_name: Some("K1".into()),
        after_seq: Some(1),
        limit: 1,
        ..f()
    };
    assert_eq!(list(paged_key).await, [5]);
}

async fn concurrent_appenders_form_one_chain(ctx: Ctx) {
    const TASKS: u64 = 8;
    const EACH: u64 = 75; // 600 rows: more than one page of verify
                          // Two store instances, two pools: as two replicas.
    let stores = [ctx.open().await, ctx.open().await];
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = stores[(t % 2) as usize].clone();
        tasks.push(tokio::spawn(async move {
            let mut appended = Vec::new();
            for i in 0..EACH {
                let e = AuditEntry::new(format!("task-{t}"), "Encrypt", Outcome::Success)
                    .detail(format!("{t}/{i}"));
                appended.push(store.append(&e, 1_000 + i as i64).await.unwrap());
            }
            appended
        }));
    }
    let mut appended = Vec::new();
    for task in tasks {
        appended.extend(task.await.unwrap());
    }
    let n = TASKS * EACH;
    let listed = stores[0].list(&all()).await.unwrap();
    assert_eq!(listed.len() as u64, n);
    assert_eq!(seqs(&listed), (1..=n as i64).collect::<Vec<_>>());
    let mut prev = GENESIS_HASH.to_owned();
    for r in &listed {
        assert_eq!(r.prev_hash, prev, "row {} chains to the row before", r.seq);
        prev = r.hash.clone();
    }
    // Every append is in the log, exactly as it was returned to its caller.
    appended.sort_by_key(|r| r.seq);
    assert_eq!(appended, listed);
    let details: BTreeSet<_> = listed.iter().map(|r| r.entry.detail.clone()).collect();
    assert_eq!(details.len() as u64, n);

    for store in &stores {
        let report = store.verify().await.unwrap();
        assert_eq!(report.first_fault, None);
        assert_eq!(report.rows, n);
        assert_eq!(report.head_hash, listed.last().unwrap().hash);
    }
}

async fn verify_intact_log(ctx: Ctx) {
    let store = with_log(&ctx, 10).await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.rows, 10);
    assert_eq!(report.first_fault, None);
    assert!(report.is_intact());
    assert_eq!(report.head_hash, row(&*store, 10).await.hash);
    // A new instance (another replica) agrees, and appends continue the chain.
    let other = ctx.open().await;
    assert_eq!(other.verify().await.unwrap(), report);
    let next = other.append(&entry(11), 11_000).await.unwrap();
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (11, report.head_hash.as_str())
    );
    assert_eq!(store.verify().await.unwrap().first_fault, None);
}

async fn verify_empty_log(ctx: Ctx) {
    let store = ctx.open().await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.rows, 0);
    assert_eq!(report.first_fault, None);
    assert_eq!(report.head_hash, GENESIS_HASH);
    assert!(store.list(&all()).await.unwrap().is_empty());
}

async fn verify_detects_edited_row(ctx: Ctx) {
    let store = with_log(&ctx, 10).await;
    ctx.tamper(
        false,
        &["UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 5"],
    )
    .await;
    assert_eq!(row(&*store, 5).await.entry.detail, "nothing happened");
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_fault, Some(ChainFault::Edited { seq: 5 }));
    assert_eq!(report.rows, 10);
    let text = report.first_fault.unwrap().to_string();
    assert!(text.contains("row 5 was edited"), "{text}");
}

async fn verify_detects_deleted_row(ctx: Ctx) {
    let store = with_log(&ctx, 10).await;
    ctx.tamper(false, &["DELETE FROM audit_log WHERE seq = 5"])
        .await;
    let report = store.verify().await.unwrap();
    assert_eq!(
        report.first_fault,
        Some(ChainFault::Deleted {
            after_seq: 4,
            missing_seq: 5
        })
    );
    assert_eq!(report.rows, 9);
    let text = report.first_fault.unwrap().to_string();
    assert!(text.contains("row 5 was deleted"), "{text}");
}

async fn verify_detects_deleted_newest_row(ctx: Ctx) {
    let store = with_log(&ctx, 10).await;
    ctx.tamper(false, &["DELETE FROM audit_log WHERE seq >= 9"])
        .await;
    assert_eq!(
        fault(&*store).await,
        Some(ChainFault::Deleted {
            after_seq: 8,
            missing_seq: 9
        })
    );
}

async fn verify_detects_reordered_pair(ctx: Ctx) {
    // Rows 4 and 5 exchange their contents, hashes included (that is: their seqs swapped).
    let store = with_log(&ctx, 10).await;
    let (four, five) = (row(&*store, 4).await, row(&*store, 5).await);
    ctx.tamper(
        false,
        &[
            "UPDATE audit_log SET seq = -5 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = -5",
        ],
    )
    .await;
    let now_four = row(&*store, 4).await;
    assert_eq!((now_four.entry, now_four.hash), (five.entry, five.hash));
    assert_eq!(row(&*store, 5).await.hash, four.hash);
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_fault, Some(ChainFault::Reordered { seq: 4 }));
    let text = report.first_fault.unwrap().to_string();
    assert!(text.contains("row 4 is out of order"), "{text}");
}

async fn verify_detects_swapped_contents(ctx: Ctx) {
    // Rows 4 and 5 exchange their contents; seq, prev_hash and hash stay in place.
    let store = with_log(&ctx, 10).await;
    ctx.tamper(
        false,
        &[
            "CREATE TEMPORARY TABLE original AS SELECT * FROM audit_log WHERE seq IN (4, 5)",
            "UPDATE audit_log SET (at, principal, operation, key_name, key_version, outcome, \
             records, detail, request_id) = (SELECT at, principal, operation, key_name, \
             key_version, outcome, records, detail, request_id FROM original \
             WHERE original.seq = 9 - audit_log.seq) WHERE seq IN (4, 5)",
        ],
    )
    .await;
    assert_eq!(row(&*store, 4).await.entry, entry(5));
    assert_eq!(row(&*store, 5).await.entry, entry(4));
    assert_eq!(fault(&*store).await, Some(ChainFault::Reordered { seq: 4 }));
}

async fn verify_detects_rewritten_row(ctx: Ctx) {
    // Row 5 edited and its hash recomputed, as someone who knows the algorithm would: row 5
    // is consistent, but row 6 no longer chains to it.
    let store = with_log(&ctx, 10).await;
    let five = row(&*store, 5).await;
    let mut edited = five.entry.clone();
    edited.detail = "rewritten".into();
    let hash = record_hash(5, five.at, &edited, &five.prev_hash);
    let sql = format!("UPDATE audit_log SET detail = 'rewritten', hash = '{hash}' WHERE seq = 5");
    ctx.tamper(false, &[&sql]).await;
    assert_eq!(fault(&*store).await, Some(ChainFault::Reordered { seq: 6 }));
}

async fn verify_detects_bad_genesis(ctx: Ctx) {
    let store = with_log(&ctx, 3).await;
    let first = row(&*store, 1).await;
    let prev = "ab".repeat(32);
    let hash = record_hash(1, first.at, &first.entry, &prev);
    let sql = format!("UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = 1");
    ctx.tamper(false, &[&sql]).await;
    let report = store.verify().await.unwrap();
    assert_eq!(report.first_fault, Some(ChainFault::BadGenesis { seq: 1 }));
    let text = report.first_fault.unwrap().to_string();
    assert!(text.contains("row 1 is not a valid first row"), "{text}");
}

async fn verify_detects_unreadable_row(ctx: Ctx) {
    // A value no append writes (here an unknown outcome, past the CHECK constraint) is an
    // edit: verify reports it, list refuses the row.
    let store = with_log(&ctx, 6).await;
    ctx.tamper(
        true,
        &["UPDATE audit_log SET outcome = 'fine' WHERE seq = 3"],
    )
    .await;
    assert_eq!(fault(&*store).await, Some(ChainFault::Edited { seq: 3 }));
    let listed = store.list(&all()).await;
    let error = listed.expect_err("row 3 cannot be listed").to_string();
    assert!(error.contains("audit row 3"), "{error}");
}

/// PostgreSQL only: UPDATE, DELETE and TRUNCATE of audit_log are refused while the trigger
/// is enabled, and the head cannot be moved back.
async fn append_only_trigger_refuses_changes(ctx: Ctx) {
    let store = with_log(&ctx, 3).await;
    assert_eq!(ctx.backend(), "postgres", "PostgreSQL only");
    for sql in [
        "UPDATE audit_log SET detail = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET seq = 1",
        "DELETE FROM audit_head",
    ] {
        let error = ctx
            .execute_with(&[], &[sql])
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            error.contains("append-only") || error.contains("only moves forward"),
            "{sql}: {error}"
        );
    }
    let report = store.verify().await.unwrap();
    assert_eq!((report.rows, report.first_fault), (3, None));
    store.append(&entry(4), 4_000).await.unwrap();
    assert_eq!(fault(&*store).await, None);
}
