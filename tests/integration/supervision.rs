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

/// One partition of an event as stored: its bounds and checkpoint (integer keys), its lease's
/// end, and the rows it migrated and found current.
#[derive(Debug)]
struct StoredPartition {
    lower: Option<i64>,
    upper: Option<i64>,
    checkpoint: Option<i64>,
    lease_expires_at: Option<i64>,
    migrated: i64,
    already_current: i64,
}

impl StoredPartition {
    fn holds(&self, id: i64) -> bool {
        self.lower.is_none_or(|l| id > l) && self.upper.is_none_or(|u| id <= u)
    }

    /// Every row up to the checkpoint moved, none after it.
    fn moved(&self, id: i64) -> bool {
        self.checkpoint.is_some_and(|c| id <= c)
    }
}

fn int_checkpoint(text: Option<String>) -> Option<i64> {
    text.map(|t| {
        t.strip_prefix("int:")
            .expect("an integer checkpoint")
            .parse()
            .unwrap()
    })
}

/// The event's progress as stored, read straight from the keystore database of a stopped
/// server: its status and last error, and its partitions.
async fn stored_progress(
    env: &crate::support::TestEnv,
    event_id: &str,
) -> (String, Option<String>, Vec<StoredPartition>) {
    let pool = env.keystore_pool().await;
    let event = sqlx::query("SELECT status, last_error FROM rotation_events WHERE id = $1")
        .bind(event_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let partitions = sqlx::query(
        "SELECT lower_bound, upper_bound, checkpoint, lease_expires_at, migrated, already_current \
         FROM rotation_event_partitions WHERE event_id = $1 ORDER BY idx",
    )
    .bind(event_id)
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|p| StoredPartition {
        lower: int_checkpoint(p.get(0)),
        upper: int_checkpoint(p.get(1)),
        checkpoint: int_checkpoint(p.get(2)),
        lease_expires_at: p.get(3),
        migrated: p.get(4),
        already_current: p.get(5),
    })
    .collect();
    let progress = (event.get::<String, _>(0), event.get(1), partitions);
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

    let (status, last_error, partitions) = stored_progress(&env, &event.event_id).await;
    assert_eq!(status, "in_progress", "{last_error:?}");
    assert_eq!(
        partitions.len(),
        4,
        "the default parallelism: {partitions:?}"
    );
    let now = SystemClock.now();
    for p in &partitions {
        // Every lease released, so that the next start resumes at once.
        assert!(p.lease_expires_at.is_some_and(|at| at < now), "{p:?}");
        assert_eq!(p.already_current, 0, "{p:?}");
    }
    let migrated: i64 = partitions.iter().map(|p| p.migrated).sum();
    assert!(migrated >= 1_000 && migrated < rows, "{migrated}");
    // Exact: in each partition, every row up to its checkpoint moved and none after it.
    let mut moved = 0;
    for (id, token) in db.all().await {
        let mut holders = partitions.iter().filter(|p| p.holds(id));
        let p = holders.next().expect("every row is in a partition");
        assert!(
            holders.next().is_none(),
            "row {id} is in one partition only"
        );
        let expected = if p.moved(id) { 2 } else { 1 };
        moved += i64::from(expected == 2);
        assert_eq!(version_of(&token), expected, "row {id} in {p:?}");
    }
    assert_eq!(moved, migrated);

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
