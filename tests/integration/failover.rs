//! Three `rekey serve` processes on one PostgreSQL keystore. The replica holding the migration
//! lease is frozen mid-batch and killed; another takes the event over from its checkpoint and
//! finishes it; the survivors answer throughout; and each replica's metrics tell exactly what
//! it did.

use std::time::Duration;

use rekey::rotation::BatchSize;

use crate::app_db::{AppDb, KEY};
use crate::metrics::{scrape, Scrape, ENCRYPT};
use crate::processes::Replica;
use crate::support::Backend;

async fn encrypt_on(replica: &Replica, text: &str) -> Vec<u8> {
    let encrypted = replica.clients().encrypt(KEY, text.as_bytes()).await;
    encrypted.ciphertext
}

async fn decrypt_on(replica: &Replica, ciphertext: &[u8]) -> Vec<u8> {
    replica
        .clients()
        .decrypt(ciphertext)
        .await
        .plaintext
        .clone()
}

fn migrated(scrape: &Scrape, outcome: &str) -> f64 {
    scrape.value(
        "rekey_migration_records_total",
        &[("key", KEY), ("outcome", outcome)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
async fn the_lease_holder_dies_mid_migration_and_another_of_three_replicas_finishes() {
    let rows = 12_000;
    let env = crate::migration::env_with_legacy_key(Backend::Postgres).await;
    // Create the keystore, then age every key by 400 days, so that a fresh primary stands out
    // in the age gauge.
    env.start().await.stop().await;
    let keystore = sqlx::PgPool::connect(&env.database_url().unwrap())
        .await
        .unwrap();
    sqlx::query("UPDATE key_versions SET created_at = created_at - 34560000000")
        .execute(&keystore)
        .await
        .unwrap();
    keystore.close().await;
    let db = AppDb::create(&env, Backend::Postgres, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(200).unwrap());
    target.rate_limit = Some(3_000);
    // One partition, so that one replica holds the whole event (parallel partitions across
    // replicas are tested in replicas.rs).
    target.parallelism = Some(1);
    let fast_refresh = "keystore.refresh_interval_secs = 1";
    let targets = std::slice::from_ref(&target);
    let mut replicas = vec![
        Replica::start(&env, "r1", fast_refresh, targets).await,
        Replica::start(&env, "r2", fast_refresh, targets).await,
        Replica::start(&env, "r3", fast_refresh, targets).await,
    ];
    // Every replica answers, and what one encrypts the others decrypt.
    let mut encrypts = [0.0f64; 3];
    let before = encrypt_on(&replicas[0], "before the rotation").await;
    encrypts[0] += 1.0;
    for r in &replicas[1..] {
        assert_eq!(decrypt_on(r, &before).await, b"before the rotation");
    }

    let event = replicas[1].force_rotation(KEY).await;
    let get_event = |r: &Replica| {
        let mut clients = r.clients();
        let id = event.event_id.clone();
        async move { clients.get_event(&id).await }
    };
    let mut under_way = false;
    for _ in 0..1200 {
        if get_event(&replicas[0]).await.totals.unwrap().migrated >= 2_000 {
            under_way = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(under_way, "the migration never got going");

    // The holder is the one replica reporting a records/s rate for the event.
    let mut scrapes = Vec::new();
    for r in &replicas {
        scrapes.push(scrape(r.http_addr()).await);
    }
    let rate_labels = [("key", KEY), ("event_id", event.event_id.as_str())];
    let holders: Vec<usize> = (0..3)
        .filter(|&i| {
            scrapes[i]
                .get("rekey_migration_records_per_second", &rate_labels)
                .is_some()
        })
        .collect();
    assert_eq!(holders.len(), 1, "exactly one replica works the event");
    let holder = holders[0];
    // A batch is counted once its throttle is over: at most one batch (200) behind the event.
    assert!(migrated(&scrapes[holder], "migrated") >= 1_800.0);
    for (i, s) in scrapes.iter().enumerate() {
        // The rotation is counted once, by the replica that made it.
        let rotated = s.value(
            "rekey_rotations_total",
            &[
                ("key", KEY),
                ("trigger", "emergency"),
                ("outcome", "success"),
            ],
        );
        assert_eq!(rotated, if i == 1 { 1.0 } else { 0.0 }, "replica {i}");
        if i != holder {
            assert_eq!(migrated(s, "migrated"), 0.0, "replica {i} migrated nothing");
        }
    }

    // Freeze the holder where it stands (possibly between writing a batch and recording it),
    // read the event's progress, and kill it.
    let dead = replicas.remove(holder);
    dead.freeze();
    let at_kill = get_event(&replicas[0]).await.totals.unwrap();
    let ciphertext_of_dead = before.clone();
    dead.kill9();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != holder).collect();

    // The survivors keep answering while one of them takes the event over.
    let mut finished = None;
    for round in 0..2400 {
        for (slot, r) in replicas.iter().enumerate() {
            if round % 10 == 0 {
                let text = format!("during takeover {round}");
                let ct = encrypt_on(r, &text).await;
                encrypts[survivors[slot]] += 1.0;
                assert_eq!(decrypt_on(&replicas[1 - slot], &ct).await, text.as_bytes());
                assert_eq!(
                    decrypt_on(r, &ciphertext_of_dead).await,
                    b"before the rotation"
                );
            }
        }
        let e = get_event(&replicas[round % 2]).await;
        assert_ne!(
            e.status(),
            rekey::proto::RotationEventStatus::Failed,
            "{}",
            e.last_error
        );
        if e.status() == rekey::proto::RotationEventStatus::Completed {
            finished = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let finished = finished.expect("a surviving replica completes the event");
    let totals = finished.totals.unwrap();
    assert_eq!(totals.failed, 0);
    assert_eq!(totals.migrated + totals.already_current, rows as u64);

    // Each survivor's counters add up to exactly what was done after the kill: rows the dead
    // replica wrote without recording them are found current, not migrated twice.
    let after: Vec<Scrape> = {
        let mut v = Vec::new();
        for r in &replicas {
            v.push(scrape(r.http_addr()).await);
        }
        v
    };
    let sum = |outcome: &str| after.iter().map(|s| migrated(s, outcome)).sum::<f64>();
    assert_eq!(sum("migrated"), (totals.migrated - at_kill.migrated) as f64);
    assert_eq!(
        sum("already_current"),
        (totals.already_current - at_kill.already_current) as f64
    );
    assert_eq!(sum("failed") + sum("skipped"), 0.0);
    for (slot, s) in after.iter().enumerate() {
        let i = survivors[slot];
        assert_eq!(
            s.count("rekey_migration_records_per_second", &[("key", KEY)]),
            0,
            "replica {i}: no rate once the event is over"
        );
        assert_eq!(
            s.get(
                "rekey_rpc_requests_total",
                &[("method", ENCRYPT), ("code", "OK")]
            )
            .unwrap_or(0.0),
            encrypts[i],
            "replica {i} counts the Encrypt calls it served"
        );
        assert_eq!(
            s.sum("rekey_rotations_total", &[("outcome", "failure")]),
            0.0
        );
        assert_eq!(
            s.value(
                "rekey_rotations_total",
                &[
                    ("key", KEY),
                    ("trigger", "emergency"),
                    ("outcome", "success")
                ]
            ),
            if i == 1 { 1.0 } else { 0.0 }
        );
    }
    // Every survivor sees the new primary (refresh every second): seconds old, where the
    // other keys are 400 days old.
    for _ in 0..100 {
        let mut fresh = true;
        for r in &replicas {
            let s = scrape(r.http_addr()).await;
            let age = s.value("rekey_key_primary_age_seconds", &[("key", KEY)]);
            let other = s.value(
                "rekey_key_primary_age_seconds",
                &[("key", "SESSION_ENCRYPTION")],
            );
            assert!(other > 399.0 * 86_400.0, "{other}");
            fresh &= age < 600.0;
        }
        if fresh {
            drop(replicas);
            env.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a surviving replica still reports the old primary's age");
}
