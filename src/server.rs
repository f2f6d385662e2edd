//! Assembles and runs the server: storage backend, root key, key manager, background refresh,
//! and the gRPC services (KeyService, health, reflection) on a listener the caller provides —
//! `rekey serve` binds the configured address, tests bind `127.0.0.1:0`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tracing::{info, warn, Instrument};

use crate::api::admin_grpc::AdminServiceImpl;
use crate::api::grpc::KeyServiceImpl;
use crate::api::http::HttpState;
use crate::api::rotation_grpc::RotationServiceImpl;
use crate::audit::{AuditStore, Auditor};
use crate::auth::store::TokenStore;
use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::config::{Backend, Config};
use crate::keystore::{
    root_source::{load_root_key, KeystoreLocation},
    seed::ensure_keys,
    store::KeyStore,
    KeyManager,
};
use crate::proto::admin_service_server::AdminServiceServer;
use crate::proto::key_service_server::KeyServiceServer;
use crate::proto::rotation_service_server::RotationServiceServer;
use crate::rotation::engine::Trigger;
use crate::rotation::events::EventStore;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::targets::Target;
use crate::rotation::worker::Worker;
use crate::rotation::RotationEngine;
use crate::sql::{PostgresStore, SqliteStore};
use crate::telemetry::metrics::KeyGauges;
use crate::telemetry::Metrics;
use tokio_util::sync::CancellationToken;

/// Room for protobuf framing and associated data on top of the largest plaintext.
const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;
/// Passes over the targets per migration event at most (see the worker).
const MAX_MIGRATION_PASSES: u32 = 3;
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server started by [`start`].
#[derive(Debug)]
pub struct RunningServer {
    grpc_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    manager: Arc<KeyManager>,
    engine: Arc<RotationEngine>,
    scheduler: Arc<Scheduler>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where the HTTP admin API listens, unless it is disabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn manager(&self) -> &Arc<KeyManager> {
        &self.manager
    }

    pub fn engine(&self) -> &Arc<RotationEngine> {
        &self.engine
    }

    /// The scheduler, for running it on demand (tests, operators' one-off runs).
    pub fn scheduler(&self) -> &Arc<Scheduler> {
        &self.scheduler
    }

    /// Stops accepting connections, lets in-flight requests finish (bounded), and returns how
    /// the server ended.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("server task panicked")?
    }

    /// Waits until the server stops by itself (an error) — used by `rekey serve` beside the
    /// signal handler.
    pub async fn until_stopped(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("server task panicked")?
    }
}

/// Opens the keystore described by `config` and starts serving gRPC on `listener`.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningServer> {
    let backend = config.backend()?;
    let (stores, keystore_existed) = open_store(config, &backend).await?;
    let root = root_key(config, &backend, keystore_existed)?;
    let manager = Arc::new(
        KeyManager::open(
            stores.keys,
            root,
            Arc::clone(&clock),
            config.key_manager_settings(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the keystore: {}", internal_detail(e)))?,
    );
    ensure_keys(&manager, &config.seed_keys(), &config.legacy_keys.0).await?;
    let auditor = Arc::new(Auditor::new(
        stores.audit,
        Arc::clone(&clock),
        config.data_plane_audit,
    ));
    let metrics = Arc::new(server_metrics(config, &manager, &auditor)?);
    let engine = Arc::new(RotationEngine::new(
        Arc::clone(&manager),
        Arc::clone(&auditor),
        stores.events,
        connect_targets(config).await?,
        config.rotation.engine_settings(MAX_MIGRATION_PASSES)?,
        Arc::clone(&metrics),
    ));
    let scheduler = Arc::new(Scheduler::new(Arc::clone(&engine)));
    let auth = Arc::new(
        Authenticator::new(
            stores.tokens,
            Arc::clone(&auditor),
            clock,
            config.admin_token.as_ref(),
            Arc::clone(&metrics),
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

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<KeyServiceServer<KeyServiceImpl>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let key_service =
        KeyServiceServer::new(KeyServiceImpl::new(Arc::clone(&engine), Arc::clone(&auth)))
            .max_decoding_message_size(config.keystore.max_plaintext_bytes + MESSAGE_OVERHEAD_BYTES)
            .max_encoding_message_size(
                config.keystore.max_plaintext_bytes + MESSAGE_OVERHEAD_BYTES,
            );
    let rotation_service = RotationServiceServer::new(RotationServiceImpl::new(
        Arc::clone(&engine),
        Arc::clone(&scheduler),
        Arc::clone(&auth),
    ));
    let admin_service = AdminServiceServer::new(AdminServiceImpl::new(
        Arc::clone(&auth),
        Arc::clone(&engine),
    ));

    let grpc_addr = listener.local_addr()?;
    let refresh = spawn_refresh(
        Arc::clone(&manager),
        Arc::clone(&auth),
        Arc::clone(&auditor),
        Duration::from_secs(config.keystore.refresh_interval_secs),
    );
    let replica = replica_id();
    let worker = Worker::new(
        Arc::clone(&engine),
        replica.clone(),
        Duration::from_millis(config.rotation.worker_poll_interval_ms),
    );
    let worker_task = tokio::spawn(
        worker
            .run()
            .instrument(tracing::info_span!("migration_worker", %replica)),
    );
    let scheduler_task = tokio::spawn(
        Scheduler::new(Arc::clone(&engine))
            .run()
            .instrument(tracing::info_span!("rotation_scheduler")),
    );
    let (http_addr, http_task) = match config.http_listen {
        Some(addr) => {
            let state = HttpState {
                engine: Arc::clone(&engine),
                scheduler: Arc::clone(&scheduler),
                auth: Arc::clone(&auth),
            };
            let (addr, task) = spawn_http(addr, state, config.tls.as_ref()).await?;
            (Some(addr), Some(task))
        }
        None => (None, None),
    };
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder
            .tls_config(crate::tls::grpc(tls)?)
            .context("invalid TLS configuration for gRPC")?;
    }
    // Telemetry outermost, so that it sees the status the client gets.
    let router = builder
        .layer(
            tower::ServiceBuilder::new()
                .layer(crate::telemetry::rpc::RpcTelemetryLayer::new(metrics))
                .layer(tower::util::MapResponseLayer::new(
                    oversized_is_resource_exhausted,
                )),
        )
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(key_service)
        .add_service(rotation_service)
        .add_service(admin_service);
    let task = tokio::spawn(
        async move {
            let (drain_tx, drain_rx) = oneshot::channel::<()>();
            let signal = async move {
                let _ = shutdown_rx.await;
                health_reporter
                    .set_not_serving::<KeyServiceServer<KeyServiceImpl>>()
                    .await;
                let _ = drain_tx.send(());
            };
            // TCP_NODELAY on every connection, as tonic's own listener would set it: without it
            // a response written in several segments waits for the client's delayed ACK (up to
            // 40 ms on Linux), which caps a connection at a few hundred rpcs per second.
            let incoming = TcpListenerStream::new(listener).map(|accepted| {
                if let Ok(stream) = &accepted {
                    if let Err(e) = stream.set_nodelay(true) {
                        warn!(error = %e, "cannot set TCP_NODELAY on a gRPC connection");
                    }
                }
                accepted
            });
            let serve = router.serve_with_incoming_shutdown(incoming, signal);
            tokio::pin!(serve);
            let result = tokio::select! {
                result = &mut serve => result,
                _ = async {
                    let _ = drain_rx.await;
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } => {
                    warn!("in-flight requests did not finish within the shutdown grace period");
                    Ok(())
                }
            };
            refresh.abort();
            worker_task.abort();
            scheduler_task.abort();
            if let Some((stop, task)) = http_task {
                stop.cancel();
                let _ = task.await;
            }
            info!("gRPC server stopped");
            result.map_err(anyhow::Error::from)
        }
        .instrument(tracing::info_span!("grpc_server", addr = %grpc_addr)),
    );
    info!(addr = %grpc_addr, backend = ?backend.name(), "serving gRPC");
    Ok(RunningServer {
        grpc_addr,
        http_addr,
        manager,
        engine,
        scheduler,
        shutdown: shutdown_tx,
        task,
    })
}

/// Serves the HTTP admin API on `addr` until the returned token is cancelled.
async fn spawn_http(
    addr: SocketAddr,
    state: HttpState,
    tls: Option<&crate::tls::TlsConfig>,
) -> anyhow::Result<(SocketAddr, (CancellationToken, JoinHandle<()>))> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
    let bound = listener.local_addr()?;
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let app = crate::api::http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { signal.cancelled().await })
                .await
        }),
        Some(tls) => {
            let rustls = crate::tls::http(tls)?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                signal.cancelled().await;
                stopper.graceful_shutdown(Some(SHUTDOWN_GRACE));
            });
            let listener = listener.into_std()?;
            tokio::spawn(async move {
                axum_server::from_tcp_rustls(listener, rustls)
                    .handle(handle)
                    .serve(app)
                    .await
            })
        }
    };
    let task = tokio::spawn(
        async move {
            match served.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(error = %e, "HTTP server stopped with an error"),
                Err(e) => warn!(error = %e, "HTTP server task failed"),
            }
        }
        .instrument(tracing::info_span!("http_server", addr = %bound)),
    );
    info!(addr = %bound, tls = tls.is_some(), "serving the HTTP admin API");
    Ok((bound, (stop, task)))
}

/// This server's metrics: every rpc of its services by name, the keys' gauges, the audit
/// trail's failures, and every counter series of the managed keys started at zero.
fn server_metrics(
    config: &Config,
    manager: &Arc<KeyManager>,
    auditor: &Arc<Auditor>,
) -> anyhow::Result<Metrics> {
    let paths = Metrics::rpc_paths(&[
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ])?;
    let metrics = Metrics::new(paths)?;
    let keys = config.managed_keys();
    let all: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
    let encryption: Vec<String> = keys
        .iter()
        .filter(|k| k.purpose() == crate::keystore::store::Purpose::EncryptDecrypt)
        .map(|k| k.name.clone())
        .collect();
    let triggers = Trigger::ALL.map(Trigger::as_str);
    metrics.start_series(&all, &encryption, &triggers);
    let manager = Arc::downgrade(manager);
    metrics.observe_keys(move || {
        let Some(manager) = manager.upgrade() else {
            return Vec::new();
        };
        manager
            .primary_ages()
            .into_iter()
            .map(|k| KeyGauges {
                key: k.key,
                primary_age_secs: k.age_secs,
                rotation_interval_secs: k.policy.rotation_interval_secs as f64,
                grace_period_secs: k.policy.grace_period_secs as f64,
            })
            .collect()
    });
    let auditor = Arc::downgrade(auditor);
    metrics
        .observe_audit_write_failures(move || auditor.upgrade().map_or(0, |a| a.write_failures()));
    Ok(metrics)
}

/// Opens the keystore database of `config` (applying migrations) and the root key that opens
/// it, for offline maintenance such as root-key rotation.
pub async fn open_keystore(
    config: &Config,
) -> anyhow::Result<(Arc<dyn KeyStore>, crate::crypto::RootKey)> {
    let backend = config.backend()?;
    if let Backend::Sqlite(path) = &backend {
        if !path.exists() {
            anyhow::bail!("no keystore at {}", path.display());
        }
    }
    let (stores, existed) = open_store(config, &backend).await?;
    let root = root_key(config, &backend, existed)?;
    Ok((stores.keys, root))
}

/// The root key of `config`: configured, or the embedded keystore's development key.
fn root_key(
    config: &Config,
    backend: &Backend,
    keystore_exists: bool,
) -> anyhow::Result<crate::crypto::RootKey> {
    let location = match backend {
        Backend::Postgres => KeystoreLocation::Shared,
        Backend::Sqlite(_) => KeystoreLocation::Embedded {
            data_dir: &config.data_dir,
            keystore_exists,
        },
    };
    load_root_key(&config.keystore.root_key_source(), location)
}

/// The keystore database seen through each of its storage traits.
struct Stores {
    keys: Arc<dyn KeyStore>,
    events: Arc<dyn EventStore>,
    tokens: Arc<dyn TokenStore>,
    audit: Arc<dyn AuditStore>,
}

impl Stores {
    fn over<S: KeyStore + EventStore + TokenStore + AuditStore + 'static>(store: Arc<S>) -> Self {
        Self {
            keys: store.clone(),
            events: store.clone(),
            tokens: store.clone(),
            audit: store,
        }
    }
}

async fn open_store(config: &Config, backend: &Backend) -> anyhow::Result<(Stores, bool)> {
    match backend {
        Backend::Sqlite(path) => {
            let existed = path.exists();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::keystore::root_source::create_private_dir(dir)?;
            }
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open SQLite keystore {}", path.display()))?;
            Ok((Stores::over(Arc::new(store)), existed))
        }
        Backend::Postgres => {
            let url = config
                .database
                .url
                .as_ref()
                .context("database.url is required for PostgreSQL")?;
            let store =
                PostgresStore::connect(url.expose_secret(), config.database.max_connections)
                    .await
                    .context("cannot open the PostgreSQL keystore")?;
            Ok((Stores::over(Arc::new(store)), true))
        }
    }
}

/// Connects every configured migration target and validates its table and columns: a
/// misconfigured target stops startup with a message naming it.
async fn connect_targets(config: &Config) -> anyhow::Result<Vec<Arc<Target>>> {
    let mut targets = Vec::with_capacity(config.targets.len());
    for target in &config.targets {
        let connected = Target::connect(target.clone())
            .await
            .with_context(|| format!("migration target {:?}", target.name))?;
        info!(target = %target.name, key = %target.key, "migration target ready");
        targets.push(Arc::new(connected));
    }
    Ok(targets)
}

/// Names this process in migration leases: host, process id and a random suffix.
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "rekey".to_owned());
    let mut suffix = [0u8; 4];
    let _ = getrandom::fill(&mut suffix);
    format!("{host}-{}-{}", std::process::id(), hex::encode(suffix))
}

/// Startup errors are shown to the operator in full (they never contain key material).
fn internal_detail(err: crate::keystore::KeyError) -> String {
    match err {
        crate::keystore::KeyError::Internal(detail)
        | crate::keystore::KeyError::Unavailable(detail) => detail,
        other => other.to_string(),
    }
}

/// tonic refuses a request larger than the decoding limit with OUT_OF_RANGE and a message
/// about "decoded message length"; the contract (and every other KMS) says RESOURCE_EXHAUSTED
/// with a message that tells the caller what to change. Public so that the benchmark's echo
/// baseline runs the very same layer.
pub fn oversized_is_resource_exhausted(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    let is_oversized = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.contains("decoded%20message%20length%20too%20large"));
    if is_oversized {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
        headers.insert(
            "grpc-message",
            http::HeaderValue::from_static(
                "request%20message%20is%20larger%20than%20this%20server%20accepts%20(max_plaintext_bytes%20plus%2064%20KiB%20of%20framing)%3B%20split%20the%20data%20or%20use%20GenerateDataKey%20for%20large%20payloads",
            ),
        );
    }
    response
}

/// Reloads keys on an interval so this replica picks up rotations made by others.
fn spawn_refresh(
    manager: Arc<KeyManager>,
    auth: Arc<Authenticator>,
    auditor: Arc<Auditor>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(
        async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                auditor.flush().await;
                if let Err(e) = auth.refresh().await {
                    warn!(error = %e, "token refresh failed; using the last loaded tokens");
                }
                if let Err(e) = manager.refresh_all().await {
                    warn!(error = %internal_detail(e), "key refresh failed; serving from the last loaded keys");
                }
            }
        }
        .instrument(tracing::info_span!("key_refresh")),
    )
}
