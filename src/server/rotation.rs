//! The rotation side of the server: the migration targets (connected and validated at
//! startup), the rotation engine and scheduler, and what the migration worker works with.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tracing::info;

use crate::audit::Auditor;
use crate::config::Config;
use crate::keystore::KeyManager;
use crate::rotation::events::EventStore;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::targets::Target;
use crate::rotation::worker::WorkerDeps;
use crate::rotation::RotationEngine;
use crate::telemetry::Metrics;

/// Passes over the targets per migration event at most (see the worker).
const MAX_MIGRATION_PASSES: u32 = 3;

/// The engine, its one scheduler, and the migration worker's dependencies, all over the
/// same targets and event store.
pub(super) struct Rotation {
    pub(super) engine: Arc<RotationEngine>,
    pub(super) scheduler: Arc<Scheduler>,
    pub(super) worker: WorkerDeps,
}

pub(super) async fn build(
    config: &Config,
    targets: Vec<Arc<Target>>,
    manager: &Arc<KeyManager>,
    auditor: &Arc<Auditor>,
    events: Arc<dyn EventStore>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Rotation> {
    let settings = config.rotation.engine_settings(MAX_MIGRATION_PASSES)?;
    let wakeup = Arc::new(Notify::new());
    let worker = WorkerDeps {
        events: Arc::clone(&events),
        keys: Arc::clone(manager),
        audit: Arc::clone(auditor),
        metrics: Arc::clone(metrics),
        targets: targets.clone(),
        default_parallelism: config.rotation.parallelism,
        lanes: config.rotation.worker_lanes,
        lease_ms: settings.lease_ms,
        max_passes: settings.max_passes,
        wakeup: Arc::clone(&wakeup),
    };
    let engine = Arc::new(RotationEngine::new(
        Arc::clone(manager),
        Arc::clone(auditor),
        events,
        targets,
        settings,
        Arc::clone(metrics),
        wakeup,
    ));
    let scheduler = Arc::new(Scheduler::new(Arc::clone(&engine)));
    Ok(Rotation {
        engine,
        scheduler,
        worker,
    })
}

/// Connects every configured migration target and validates its table and columns: a
/// misconfigured target stops startup with a message naming it.
pub(super) async fn connect_targets(config: &Config) -> anyhow::Result<Vec<Arc<Target>>> {
    let mut targets = Vec::with_capacity(config.targets.len());
    for target in &config.targets {
        // Resolved here so that the target's pool is sized for its lanes.
        let mut target = target.clone();
        target
            .parallelism
            .get_or_insert(config.rotation.parallelism);
        let connected = Target::connect(target.clone())
            .await
            .with_context(|| format!("migration target {:?}", target.name))?;
        info!(target = %target.name, key = %target.key, "migration target ready");
        targets.push(Arc::new(connected));
    }
    Ok(targets)
}

/// Names this process in migration leases: host, process id and a random suffix.
pub(super) fn replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "rekey".to_owned());
    let mut suffix = [0u8; 4];
    crate::crypto::rng::fill(&mut suffix);
    format!("{host}-{}-{}", std::process::id(), hex::encode(suffix))
}
