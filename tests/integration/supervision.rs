//! The background tasks under supervision: a migration worker that panics is counted and
//! restarted while RotationService reports NOT_SERVING and KeyService keeps answering; a
//! shutdown in the middle of a migration stops the worker at a batch boundary, and the next
//! start finishes the event with every row migrated exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekey::clock::Millis;
use rekey::clock::{Clock, SystemClock};
use rekey::rotation::BatchSize;
use sqlx::Row;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::app_db::{version_of, AppDb, KEY};
use crate::metrics::scrape;
use crate::migration::{check_rows, env_with_legacy_key};
use crate::support::{Backend, TestServer};

const ROTATION_SERVICE: &str = "rekey.v1.RotationService";

/// The system clock, except that once armed its next reading panics: the server's real
/// migration worker, the one task reading the clock while the test sends no request, is
/// made to panic through a dependency the server takes from its caller anyway.
#[derive(Debug, Default)]
struct FailingClock {
    armed: AtomicBool,
}

impl Clock for FailingClock {
    fn now(&self) -> Millis {
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("injected fault: the clock failed");
        }
        SystemClock.now()
    }
}

async fn health_of(s: &TestServer, service: &str) -> ServingStatus {
    HealthClient::new(s.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

/// Polls the health of `service` until it is `status` (bounded).
async fn wait_for_health(s: &TestServer, service: &str, status: ServingStatus) {
    for _ in 0..1000 {
        if health_of(s, service).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{service} never became {status:?}");
}

async fn a_panicking_worker_is_restarted_while_keys_keep_serving(backend: Backend) {
    let mut env = env_with_legacy_key(backend).await;
    let rows = 300;
    let db = AppDb::create(&env, backend, rows).await;
    env.config.targets.push(db.target("secrets.token"));
    // No refresh and no scheduled run while the clock is armed: the worker's poll (every
    // 100 ms) is the clock's one reader.
    env.config.keystore.refresh_interval_secs = 3600;
    env.config.rotation.schedule_enabled = false;
    let clock = Arc::new(FailingClock::default());
    let mut s = env.start_with(&env.config, clock.clone()).await;
    for service in [
        "",
        "rekey.v1.KeyService",
        ROTATION_SERVICE,
        "rekey.v1.AdminService",
    ] {
        assert_eq!(
            health_of(&s, service).await,
            ServingStatus::Serving,
            "{service:?}"
        );
    }

    clock.armed.store(true, Ordering::SeqCst);
    wait_for_health(&s, ROTATION_SERVICE, ServingStatus::NotServing).await;
    // The worker is down (restarted after a second): keys are served all the same.
    assert_eq!(
        health_of(&s, "rekey.v1.KeyService").await,
        ServingStatus::Serving
    );
    assert_eq!(health_of(&s, "").await, ServingStatus::Serving);
    let ciphertext = s
        .try_encrypt(KEY, b"while the worker is down")
        .await
        .expect("KeyService answers while the worker is down")
        .ciphertext;
    let metrics = scrape(s.server.http_addr().unwrap()).await;
    let restarts = |task| metrics.value("rekey_background_task_restarts_total", &[("task", task)]);
    assert_eq!(restarts("migration_worker"), 1.0);
    assert_eq!(restarts("key_refresh"), 0.0);
    assert_eq!(restarts("rotation_scheduler"), 0.0);

    wait_for_health(&s, ROTATION_SERVICE, ServingStatus::Serving).await;
    // The restarted worker migrates.
    let event = s.force_rotation(KEY).await;
    let done = s.wait_for_event(&event.event_id, "completed").await;
    assert_eq!(done.totals.unwrap().migrated, rows as u64);
    check_rows(&s, &db, 2, crate::app_db::plaintext).await;
    let decrypted = s.decrypt(&ciphertext).await;
    assert_eq!(decrypted.plaintext, b"while the worker is down");
    s.stop().await;
    env.finish().await;
}

/// The event's progress as stored, read straight from the keystore database of a stopped
/// server: (status, lease expiry, migrated, already current, checkpoint).
async fn stored_progress(
    env: &crate::support::TestEnv,
    event_id: &str,
) -> (String, Option<i64>, i64, i64, Option<String>) {
    let pool = env.keystore_pool().await;
    let event = sqlx::query("SELECT status, lease_expires_at FROM rotation_events WHERE id = $1")
        .bind(event_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let target = sqlx::query(
        "SELECT migrated, already_current, checkpoint FROM rotation_event_targets \
         WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let progress = (
        event.get::<String, _>(0),
        event.get::<Option<i64>, _>(1),
        target.get::<i64, _>(0),
        target.get::<i64, _>(1),
        target.get::<Option<String>, _>(2),
    );
    pool.close().await;
    progress
}

async fn a_shutdown_mid_migration_leaves_an_exact_checkpoint_that_the_next_start_resumes(
    backend: Backend,
) {
    let rows: i64 = 20_000;
    let mut env = env_with_legacy_key(backend).await;
    let db = AppDb::create(&env, backend, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(100).unwrap());
    target.rate_limit = Some(4_000);
    env.config.targets.push(target);
    // A lease that outlives the test: only a lease released at shutdown lets the next start
    // resume at once.
    env.config.rotation.lease_secs = 3600;
    let mut s = env.start().await;
    let event = s.force_rotation(KEY).await;
    let mut under_way = false;
    for _ in 0..2000 {
        let e = s.get_event(&event.event_id).await;
        if e.totals.unwrap().migrated >= 1_000 {
            under_way = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(under_way, "the migration never got going");
    let stopping = Instant::now();
    s.stop().await;
    // The worker stopped by itself at a batch boundary, well within the grace period after
    // which it would have been aborted.
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopping.elapsed()
    );

    let (status, lease_expires_at, migrated, already_current, checkpoint) =
        stored_progress(&env, &event.event_id).await;
    assert_eq!(status, "in_progress");
    assert!(
        lease_expires_at.is_some_and(|at| at < SystemClock.now()),
        "the lease is released: {lease_expires_at:?}"
    );
    assert_eq!(already_current, 0);
    assert!(migrated >= 1_000 && migrated < rows, "{migrated}");
    // Exact: every row up to the checkpoint moved, none after it.
    assert_eq!(checkpoint, Some(format!("int:{migrated}")));
    for (id, token) in db.all().await {
        let expected = if id <= migrated { 2 } else { 1 };
        assert_eq!(version_of(&token), expected, "row {id}");
    }

    let mut s = env.start().await;
    let mut done = None;
    for _ in 0..1200 {
        let e = s.get_event(&event.event_id).await;
        if e.status() == rekey::proto::RotationEventStatus::Completed {
            done = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = done.expect("the next start finishes the event without waiting for the lease");
    let totals = done.totals.unwrap();
    assert_eq!(
        (
            totals.migrated,
            totals.already_current,
            totals.skipped,
            totals.failed
        ),
        (rows as u64, 0, 0, 0)
    );
    // This server migrated exactly the rows the first one had not.
    let metrics = scrape(s.server.http_addr().unwrap()).await;
    assert_eq!(
        metrics.value(
            "rekey_migration_records_total",
            &[("key", KEY), ("outcome", "migrated")]
        ),
        (rows - migrated) as f64
    );
    check_rows(&s, &db, 2, crate::app_db::plaintext).await;
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    a_panicking_worker_is_restarted_while_keys_keep_serving,
    a_shutdown_mid_migration_leaves_an_exact_checkpoint_that_the_next_start_resumes,
);
