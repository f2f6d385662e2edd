//! Several servers on one keystore database: a version created by one is decryptable on the
//! others at once (load on miss), and the others encrypt with the new primary within the
//! configured refresh interval; two replicas share one migration's partitions.

use std::collections::BTreeSet;
use std::time::Duration;

use rekey::proto::RotationEventStatus;
use rekey::rotation::BatchSize;

use crate::app_db::{plaintext, AppBackend, AppDb, KEY};
use crate::metrics::scrape;
use crate::processes::Replica;
use crate::support::{Backend, TestEnv};

async fn replicas_see_each_others_rotations(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.refresh_interval_secs = 1).await;
    let mut a = env.start().await;
    let mut b = env.start().await;
    let before = b.encrypt("TOKEN_ENCRYPTION", b"from b").await;
    assert_eq!(before.key_version, 1);

    a.rotate("TOKEN_ENCRYPTION").await;
    let on_a = a.encrypt("TOKEN_ENCRYPTION", b"from a").await;
    assert_eq!(on_a.key_version, 2);
    // B has never seen version 2, yet decrypts it immediately.
    let dec = b.decrypt(&on_a.ciphertext).await;
    assert_eq!(
        (dec.plaintext.as_slice(), dec.key_version),
        (&b"from a"[..], 2)
    );
    // A decrypts what B made before the rotation.
    let dec = a.decrypt(&before.ciphertext).await;
    assert_eq!(dec.plaintext, b"from b");

    // B switches to version 2 for new encryptions within the refresh interval (1 s here);
    // the loop bound is generous because the machine is shared.
    let mut switched = false;
    for _ in 0..100 {
        let ct = b.encrypt("TOKEN_ENCRYPTION", b"x").await;
        if ct.key_version == 2 {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(switched, "replica B never picked up the rotation made on A");
    a.stop().await;
    b.stop().await;
    env.finish().await;
}

crate::on_every_backend!(replicas_see_each_others_rotations);

/// Two `rekey serve` processes of two lanes each share one event cut into four partitions:
/// both work it at the same time, and together they move every row exactly once. Had two
/// lanes ever worked one partition at once, the second's compare-and-swap would have found
/// rows already moved (counted `skipped`) or read them as current (`already_current`).
async fn two_replicas_share_a_migration_and_never_work_one_partition(app: AppBackend) {
    let rows = 16_000;
    let env = crate::migration::env_with_legacy_key(app.keystore()).await;
    let db = AppDb::create(&env, app, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(100).unwrap());
    target.parallelism = Some(4);
    let targets = std::slice::from_ref(&target);
    // Leases long enough never to lapse on a loaded CI machine: a lapse hands a partition to
    // the other replica from its checkpoint while its holder may still be writing a batch
    // (the compare-and-swap keeps every row, but that batch then counts as skipped), which is
    // the takeover `processes::killed` checks, not the sharing this test checks.
    let lanes = "rotation.worker_lanes = 2\nrotation.lease_secs = 30";
    let a = Replica::start(&env, "a", lanes, targets).await;
    let b = Replica::start(&env, "b", lanes, targets).await;
    let event = a.force_rotation(KEY).await;

    let keystore = env.keystore_pool().await;
    let mut holders_at_once = 0;
    let mut finished = None;
    for _ in 0..4800 {
        let owners: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT lease_owner FROM rotation_event_partitions WHERE event_id = $1 AND done = 0",
        )
        .bind(&event.event_id)
        .fetch_all(&keystore)
        .await
        .unwrap();
        // A lane holds its lease as `<replica>/<claim>`.
        let replicas: BTreeSet<String> = owners
            .into_iter()
            .flatten()
            .map(|o| o.rsplit_once('/').map_or(o.clone(), |(r, _)| r.to_owned()))
            .collect();
        holders_at_once = holders_at_once.max(replicas.len());
        let e = a.clients().get_event(&event.event_id).await;
        assert_ne!(e.status(), RotationEventStatus::Failed, "{}", e.last_error);
        if e.status() == RotationEventStatus::Completed {
            finished = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let finished = finished.expect("the event completes");
    assert_eq!(
        holders_at_once, 2,
        "both replicas held partitions at the same time"
    );
    let totals = finished.totals.unwrap();
    assert_eq!(
        (
            totals.total,
            totals.migrated,
            totals.already_current,
            totals.skipped,
            totals.failed
        ),
        (rows as u64, rows as u64, 0, 0, 0)
    );
    // Each replica's own metrics: both moved rows, and the rows they moved add up to the table.
    let moved = |s: &crate::metrics::Scrape| {
        s.value(
            "rekey_migration_records_total",
            &[("key", KEY), ("outcome", "migrated")],
        )
    };
    let (on_a, on_b) = (
        moved(&scrape(a.http_addr()).await),
        moved(&scrape(b.http_addr()).await),
    );
    assert!(on_a > 0.0 && on_b > 0.0, "a moved {on_a}, b moved {on_b}");
    assert_eq!(on_a + on_b, rows as f64);
    drop((a, b));

    // Every row is on version 2 and decrypts to what was stored.
    let mut env = env;
    env.config.targets.push(target);
    let s = env.start().await;
    crate::migration::check_rows(&s, &db, 2, plaintext).await;
    s.stop().await;
    env.finish().await;
}

mod shared_migration {
    use super::*;
    crate::on_every_target_backend!(two_replicas_share_a_migration_and_never_work_one_partition);
}
