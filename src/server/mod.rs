//! Assembles and runs the server. `start` composes the rooms below on a listener the caller
//! provides (`rekey serve` binds the configured address, tests bind `127.0.0.1:0`):
//!
//! - `stores`: the keystore database, seen through each storage trait;
//! - `keys`: the root key, the key manager and the managed keys seeded on first start;
//! - `rotation`: the migration targets, the rotation engine, its one scheduler and the
//!   migration worker's dependencies;
//! - `metrics`: this server's metrics, fed by the domains through callbacks;
//! - `grpc` and `http`: the services, their health and the listeners;
//! - `supervisor` and `tasks`: the background tasks (worker, scheduler, refresh) in one
//!   supervised set, restarted when they panic.
//!
//! One cancellation token stops it all: the worker stops at a batch boundary (its last batch
//! written and checkpointed) and the other tasks at their next await; then health goes
//! NOT_SERVING and the listeners drain. The listeners stop last because the gRPC connection
//! threads' runtimes end with them, and a keystore connection opened by a request on one of
//! those threads belongs to its runtime: a worker still checkpointing on such a connection
//! after that would fail.

mod grpc;
mod grpc_threads;
mod http;
mod keys;
mod metrics;
mod rotation;
mod stores;
mod supervisor;
mod tasks;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use crate::admin::Admin;
use crate::api::http::{HttpState, TransitSettings};
use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::config::Config;
use crate::keystore::KeyManager;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::RotationEngine;
use crate::telemetry::Metrics;

pub use grpc::oversized_is_resource_exhausted;
pub use grpc_threads::{serve as serve_on_connection_threads, thread_count as connection_threads};
pub use keys::open_keystore;

use supervisor::{Backoff, Supervisor, TaskEnd};

/// How long in-flight requests, and background tasks, get to finish after a stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server started by [`start`].
#[derive(Debug)]
pub struct RunningServer {
    grpc_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    manager: Arc<KeyManager>,
    engine: Arc<RotationEngine>,
    scheduler: Arc<Scheduler>,
    stop: CancellationToken,
    /// Stops the listeners, once the background tasks have ended.
    listeners: CancellationToken,
    grpc: JoinHandle<anyhow::Result<()>>,
    http: Option<JoinHandle<()>>,
    tasks: Supervisor,
}

impl RunningServer {
    /// Where gRPC listens: the address of the listener given to [`start`].
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where the HTTP admin API listens, unless it is disabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The key manager behind this server's key operations. Public for the integration tests
    /// (which encrypt as an application would, decrypt migrated rows in process and retire
    /// versions) and the benchmark harness (which measures re-encryption in process).
    pub fn manager(&self) -> &Arc<KeyManager> {
        &self.manager
    }

    /// Writes the buffered data-plane audit summaries now rather than at the next periodic
    /// flush. Public for the integration tests, which read the audit trail right after making
    /// the calls it records.
    pub async fn flush_audit(&self) {
        self.engine.audit().flush().await;
    }

    /// The scheduler, for running it on demand (tests, operators' one-off runs): the same
    /// one that runs on schedule and that RotationService and the HTTP API use.
    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    /// Cancelling this token stops the server (`rekey serve` cancels it on SIGINT/SIGTERM);
    /// [`RunningServer::until_stopped`] then drains it.
    pub(crate) fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops accepting connections, lets in-flight requests and background tasks finish
    /// (bounded), and returns how the server ended.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.until_stopped().await
    }

    /// Runs until the server stops, by itself (the gRPC server failed) or through its stop
    /// token; then stops everything else, logs how the HTTP server and every background task
    /// ended, and returns how the gRPC server ended.
    pub(crate) async fn until_stopped(mut self) -> anyhow::Result<()> {
        let early = tokio::select! {
            ended = &mut self.grpc => Some(ended),
            () = self.stop.cancelled() => None,
        };
        if early.is_some() {
            warn!("the gRPC server stopped by itself; stopping the rest of the server");
        }
        self.stop.cancel();
        for (task, end) in self.tasks.join().await {
            match end {
                TaskEnd::Cancelled | TaskEnd::Finished => {
                    info!(task, %end, "background task ended")
                }
                _ => warn!(task, %end, "background task ended"),
            }
        }
        self.listeners.cancel();
        let grpc = match early {
            Some(ended) => ended,
            None => (&mut self.grpc).await,
        };
        if let Some(http) = self.http {
            if tokio::time::timeout(SHUTDOWN_GRACE, http).await.is_err() {
                warn!("the HTTP server did not stop within the shutdown grace period");
            }
        }
        info!("server stopped");
        grpc.context("the gRPC server task panicked")?
    }
}

/// Opens the keystore described by `config` and starts serving gRPC on `listener` (and the
/// HTTP admin API, if configured), with the background tasks under one supervisor.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningServer> {
    let backend = config.backend()?;
    // Everything that can refuse a start without changing anything comes first: the
    // listeners are bound and the migration targets checked before a keystore, a root key
    // or an admin token is created, so a failed first start leaves the data folder as it was.
    let http_listener = match config.http_listen {
        Some(addr) => Some(http::bind_http(addr).await?),
        None => None,
    };
    let targets = rotation::connect_targets(config).await?;
    let root = keys::root_key(config, &backend).await?;
    let stores = stores::open_store(config, &backend).await?;
    let manager = keys::open_key_manager(config, root, &stores, Arc::clone(&clock)).await?;
    let auditor = Arc::new(Auditor::new(
        Arc::clone(&stores.audit),
        Arc::clone(&clock),
        config.data_plane_audit,
    ));
    let metrics = Arc::new(metrics::server_metrics(config, &manager, &auditor)?);
    let rotation = rotation::build(
        config,
        targets,
        &manager,
        &auditor,
        Arc::clone(&stores.events),
        &metrics,
    )
    .await?;
    let auth = open_auth(config, &stores, &auditor, clock, &metrics).await?;

    // One admin core behind both transports.
    let admin = Arc::new(Admin::new(
        Arc::clone(&rotation.engine),
        Arc::clone(&rotation.scheduler),
        Arc::clone(&auth),
    ));
    let stop = CancellationToken::new();
    let listeners = CancellationToken::new();
    let health = HealthReporter::new();
    grpc::set_health(&health, ServingStatus::Serving).await;
    let (http_addr, http) = match http_listener {
        Some(listener) => {
            let state = HttpState {
                engine: Arc::clone(&rotation.engine),
                auth: Arc::clone(&auth),
                admin: Arc::clone(&admin),
                limits: grpc::batch_limits(&config.keystore),
                transit: config.transit.enabled.then(|| TransitSettings {
                    mount: config.transit.mount.clone(),
                    body_limit: grpc::transit_body_limit(&config.keystore),
                }),
            };
            let (addr, task) = http::spawn_http(
                listener,
                state,
                config.tls.as_ref(),
                listeners.clone(),
                SHUTDOWN_GRACE,
            )
            .await?;
            (Some(addr), Some(task))
        }
        None => (None, None),
    };
    let grpc_addr = listener.local_addr()?;
    let services = grpc::Services {
        engine: Arc::clone(&rotation.engine),
        admin,
        auth: Arc::clone(&auth),
        metrics: Arc::clone(&metrics),
    };
    let grpc = grpc::serve(
        config,
        listener,
        services,
        health.clone(),
        listeners.clone(),
        SHUTDOWN_GRACE,
    )
    .inspect_err(|_| listeners.cancel())?;
    let background = tasks::all(
        config,
        rotation.worker,
        &rotation.scheduler,
        Arc::clone(&manager),
        auth,
        auditor,
        health.clone(),
    );
    let tasks = Supervisor::start(
        background,
        stop.clone(),
        health,
        metrics,
        Backoff::DEFAULT,
        SHUTDOWN_GRACE,
    );
    info!(addr = %grpc_addr, backend = backend.name(), "serving gRPC");
    Ok(RunningServer {
        grpc_addr,
        http_addr,
        manager,
        engine: rotation.engine,
        scheduler: rotation.scheduler,
        stop,
        listeners,
        grpc,
        http,
        tasks,
    })
}

/// Loads the API tokens and client certificates; on a first start creates the admin token
/// and shows it once.
async fn open_auth(
    config: &Config,
    stores: &stores::Stores,
    auditor: &Arc<Auditor>,
    clock: Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Arc<Authenticator>> {
    let auth = Arc::new(
        Authenticator::new(
            Arc::clone(&stores.tokens),
            Arc::clone(auditor),
            clock,
            config.admin_token.as_ref(),
            Arc::clone(metrics),
        )
        .await
        .and_then(|a| a.with_certificates(config.tls.as_ref().map_or(&[][..], |t| &t.clients)))
        .context("cannot load API tokens and client certificates")?,
    );
    if let Some(path) = auth.bootstrap(&config.data_dir).await? {
        let token = std::fs::read_to_string(&path)?;
        // The one time a secret is printed: the operator needs it to administer the server.
        println!(
            "\nFirst start: created an admin token (also in {}, mode 0600). It is shown once:\n\n    {}\n",
            path.display(),
            token.trim()
        );
    }
    Ok(auth)
}
