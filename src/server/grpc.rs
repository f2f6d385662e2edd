//! The gRPC side of the server: the services (KeyService, RotationService, AdminService),
//! their health statuses, reflection, and the router with its layers, served on the listener
//! the caller provides until a stop.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tracing::{info, Instrument};

use crate::admin::Admin;
use crate::api::admin_grpc::AdminServiceImpl;
use crate::api::batch::BatchLimits;
use crate::api::grpc::KeyServiceImpl;
use crate::api::rotation_grpc::RotationServiceImpl;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::proto::admin_service_server::AdminServiceServer;
use crate::proto::key_service_server::KeyServiceServer;
use crate::proto::rotation_service_server::RotationServiceServer;
use crate::rotation::RotationEngine;
use crate::telemetry::Metrics;

/// Room for protobuf framing and associated data on top of the largest plaintext.
const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;
/// Framing per item of a batch rpc beyond its value and associated data: a key name of at
/// most 64 bytes, field tags and lengths, and the item's result message.
const BATCH_ITEM_OVERHEAD_BYTES: usize = 160;

/// The health name of RotationService: NOT_SERVING while its migration worker or scheduler
/// is down.
pub(super) const ROTATION_SERVICE: &str = <RotationServiceServer<RotationServiceImpl>>::NAME;

/// The health name of the root key: NOT_SERVING while the root-key provider cannot be used
/// (a token removed, an HSM unreachable). Rotations and new keys need it; encryption and
/// decryption with the versions already loaded do not, so the server as a whole stays up.
pub(super) const ROOT_KEY_HEALTH: &str = "rekey.RootKey";

/// Every name the health service answers for: the server as a whole (""), each service, and
/// the root key.
const HEALTH_NAMES: [&str; 5] = [
    "",
    <KeyServiceServer<KeyServiceImpl>>::NAME,
    ROTATION_SERVICE,
    <AdminServiceServer<AdminServiceImpl>>::NAME,
    ROOT_KEY_HEALTH,
];

/// Sets every health status of this server at once.
pub(super) async fn set_health(health: &HealthReporter, status: ServingStatus) {
    for name in HEALTH_NAMES {
        health.set_service_status(name, status).await;
    }
}

/// What the gRPC services act on.
pub(super) struct Services {
    pub(super) engine: Arc<RotationEngine>,
    pub(super) admin: Arc<Admin>,
    pub(super) auth: Arc<Authenticator>,
    pub(super) metrics: Arc<Metrics>,
}

/// Serves every service on `listener` until `stop` is cancelled: health goes NOT_SERVING,
/// new connections are refused, and in-flight requests get `grace` to finish. Connections
/// are served on threads of their own (`grpc_threads`), one per core.
pub(super) fn serve(
    config: &Config,
    listener: TcpListener,
    services: Services,
    health: HealthReporter,
    stop: CancellationToken,
    grace: Duration,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let addr = listener.local_addr()?;
    let (key_service, rotation_service, admin_service) = services.servers(config);
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
                .layer(crate::telemetry::rpc::RpcTelemetryLayer::new(
                    services.metrics,
                ))
                .layer(tower::util::MapResponseLayer::new(
                    oversized_is_resource_exhausted,
                )),
        )
        .add_service(tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(health.clone()),
        ))
        .add_service(reflection()?.build_v1()?)
        .add_service(reflection()?.build_v1alpha()?)
        .add_service(key_service)
        .add_service(rotation_service)
        .add_service(admin_service);
    let task = async move {
        // On a stop, health goes NOT_SERVING first; then the connection threads stop
        // accepting and drain.
        let draining = CancellationToken::new();
        tokio::spawn({
            let draining = draining.clone();
            async move {
                stop.cancelled().await;
                set_health(&health, ServingStatus::NotServing).await;
                draining.cancel();
            }
        });
        let serve_connections = move |connections: UnboundedReceiverStream<std::net::TcpStream>,
                                      stop: CancellationToken| {
            let router = router.clone();
            async move {
                let incoming = connections.map(tokio::net::TcpStream::from_std);
                router
                    .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                    .await
                    .map_err(anyhow::Error::from)
            }
        };
        let threads = super::grpc_threads::thread_count();
        let result =
            super::grpc_threads::serve(listener, threads, draining, grace, serve_connections).await;
        info!("gRPC server stopped");
        result
    };
    Ok(tokio::spawn(
        task.instrument(tracing::info_span!("grpc_server", %addr)),
    ))
}

impl Services {
    fn servers(
        &self,
        config: &Config,
    ) -> (
        KeyServiceServer<KeyServiceImpl>,
        RotationServiceServer<RotationServiceImpl>,
        AdminServiceServer<AdminServiceImpl>,
    ) {
        let keystore = &config.keystore;
        // A batch carries its items' bytes plus their framing (key name, field tags, the
        // per-item result), which BATCH_ITEM_OVERHEAD_BYTES bounds; the handlers enforce the
        // batch limits themselves, and Encrypt and Sign `max_plaintext_bytes`.
        let max_message = keystore
            .max_plaintext_bytes
            .max(keystore.max_batch_bytes + keystore.max_batch_items * BATCH_ITEM_OVERHEAD_BYTES)
            + MESSAGE_OVERHEAD_BYTES;
        let admin = &self.admin;
        let key_service = KeyServiceServer::new(KeyServiceImpl::new(
            Arc::clone(&self.engine),
            Arc::clone(admin),
            Arc::clone(&self.auth),
            Arc::clone(&self.metrics),
            batch_limits(keystore),
        ))
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
        let rotation_service = RotationServiceServer::new(RotationServiceImpl::new(
            Arc::clone(admin),
            Arc::clone(&self.auth),
        ));
        let admin_service = AdminServiceServer::new(AdminServiceImpl::new(
            Arc::clone(admin),
            Arc::clone(&self.auth),
        ));
        (key_service, rotation_service, admin_service)
    }
}

/// Reflection over Rekey's services and the health service, so that grpcurl-style tools
/// work without the proto files.
fn reflection() -> anyhow::Result<tonic_reflection::server::Builder<'static>> {
    Ok(tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET))
}

/// TCP_NODELAY on every connection, as tonic's own listener would set it: without it a
/// response written in several segments waits for the client's delayed ACK (up to 40 ms on
/// Linux), which caps a connection at a few hundred rpcs per second.
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
                "request%20message%20is%20larger%20than%20this%20server%20accepts%20(keystore.max_plaintext_bytes%2C%20or%20for%20batch%20rpcs%20keystore.max_batch_bytes%2C%20plus%20framing)%3B%20split%20the%20data%20or%20use%20GenerateDataKey%20for%20large%20payloads",
            ),
        );
    }
    response
}

/// The batch limits of `[keystore]`: the gRPC batch rpcs and Transit's `batch_input` alike.
pub(super) fn batch_limits(keystore: &crate::config::KeystoreConfig) -> BatchLimits {
    BatchLimits {
        max_items: keystore.max_batch_items,
        max_bytes: keystore.max_batch_bytes,
    }
}

/// The largest Transit request body: a batch at the limits (or one value at
/// `max_plaintext_bytes`) in base64, which is 4/3 of the bytes, with its JSON around each item.
pub(super) fn transit_body_limit(keystore: &crate::config::KeystoreConfig) -> usize {
    const JSON_PER_ITEM: usize = 128;
    keystore.max_plaintext_bytes.max(keystore.max_batch_bytes) / 3 * 4
        + keystore.max_batch_items * JSON_PER_ITEM
        + MESSAGE_OVERHEAD_BYTES
}
