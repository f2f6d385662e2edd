//! The server's background tasks, as the supervisor runs them: the migration worker, the
//! rotation scheduler, the refresh of keys and tokens (with the audit trail's flush), and the
//! root key's health.

use std::sync::Arc;
use std::time::Duration;

use tracing::{warn, Instrument};

use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::keystore::KeyManager;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::worker::Worker;

use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::grpc::{ROOT_KEY_HEALTH, ROTATION_SERVICE};
use super::keys::internal_detail;
use super::supervisor::BackgroundTask;
use crate::config::Config;
use crate::rotation::worker::WorkerDeps;

/// Every background task of a server: this replica's migration worker, the scheduler, and the
/// refresh of keys and tokens.
pub(super) fn all(
    config: &Config,
    worker: WorkerDeps,
    scheduler: &Arc<Scheduler>,
    manager: Arc<KeyManager>,
    auth: Arc<Authenticator>,
    auditor: Arc<Auditor>,
    health: HealthReporter,
) -> Vec<BackgroundTask> {
    let replica = super::rotation::replica_id();
    let worker = Worker::new(
        worker,
        replica.clone(),
        Duration::from_millis(config.rotation.worker_poll_interval_ms),
    );
    vec![
        migration_worker(worker, replica),
        rotation_scheduler(Arc::clone(scheduler)),
        key_refresh(
            Arc::clone(&manager),
            auth,
            auditor,
            Duration::from_secs(config.keystore.refresh_interval_secs),
        ),
        root_key_health(
            manager,
            health,
            Duration::from_secs(config.keystore.refresh_interval_secs),
        ),
    ]
}

/// Checks the root key every `every` and reports it as the health of `rekey.RootKey`,
/// logging each change once: a lost token is seen within one interval, and so is its return
/// (the check itself reconnects).
fn root_key_health(
    manager: Arc<KeyManager>,
    health: HealthReporter,
    every: Duration,
) -> BackgroundTask {
    BackgroundTask::new("root_key_health", move |stop| {
        let (manager, health) = (Arc::clone(&manager), health.clone());
        async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut was_available = true;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = stop.cancelled() => break,
                }
                let available = match manager.check_root_key().await {
                    Ok(()) => {
                        if !was_available {
                            tracing::info!(provider = manager.root_key_provider(), "the root key is available again");
                        }
                        true
                    }
                    Err(e) => {
                        if was_available {
                            warn!(error = %e, "the root key is unavailable: rotations and new keys fail until it is back; loaded key versions keep serving");
                        }
                        false
                    }
                };
                if available != was_available {
                    let status = if available { ServingStatus::Serving } else { ServingStatus::NotServing };
                    health.set_service_status(ROOT_KEY_HEALTH, status).await;
                    was_available = available;
                }
            }
            Ok(())
        }
        .instrument(tracing::info_span!("root_key_health"))
    })
}

/// The migration worker of replica `replica`; RotationService cannot migrate without it.
fn migration_worker(worker: Worker, replica: String) -> BackgroundTask {
    let worker = Arc::new(worker);
    BackgroundTask::new("migration_worker", move |stop| {
        let worker = Arc::clone(&worker);
        let span = tracing::info_span!("migration_worker", %replica);
        async move {
            worker.run(&stop).await;
            Ok(())
        }
        .instrument(span)
    })
    .needed_by(ROTATION_SERVICE)
}

/// The rotation scheduler (the same one RotationService and the HTTP API run on demand).
fn rotation_scheduler(scheduler: Arc<Scheduler>) -> BackgroundTask {
    BackgroundTask::new("rotation_scheduler", move |stop| {
        let scheduler = Arc::clone(&scheduler);
        async move {
            scheduler.run(&stop).await;
            Ok(())
        }
        .instrument(tracing::info_span!("rotation_scheduler"))
    })
    .needed_by(ROTATION_SERVICE)
}

/// Reloads keys and tokens on an interval so this replica picks up rotations and token
/// changes made by others, and writes the audit trail's data-plane summaries; a last flush
/// at the stop writes the counts gathered since the last tick. `every` is therefore also the
/// most data-plane counts a killed process loses (documented in the README's audit section).
fn key_refresh(
    manager: Arc<KeyManager>,
    auth: Arc<Authenticator>,
    auditor: Arc<Auditor>,
    every: Duration,
) -> BackgroundTask {
    BackgroundTask::new("key_refresh", move |stop| {
        let (manager, auth, auditor) = (
            Arc::clone(&manager),
            Arc::clone(&auth),
            Arc::clone(&auditor),
        );
        async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = stop.cancelled() => break,
                }
                auditor.flush().await;
                if let Err(e) = auth.refresh().await {
                    warn!(error = %e, "token refresh failed; using the last loaded tokens");
                }
                if let Err(e) = manager.refresh_all().await {
                    warn!(error = %internal_detail(e), "key refresh failed; serving from the last loaded keys");
                }
            }
            auditor.flush().await;
            Ok(())
        }
        .instrument(tracing::info_span!("key_refresh"))
    })
}
