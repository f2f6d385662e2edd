//! Metrics through OpenTelemetry, rendered in Prometheus text format for `GET /metrics`.
//!
//! Each server owns its `Metrics` (its own meter provider and Prometheus registry), so that
//! several servers in one process — the test suite — never mix their counts. Names and labels
//! are the ones `deploy/prometheus/rekey-rules.yml` and the Grafana dashboard query; the
//! table in `docs/operations.md` lists them.
//!
//! This module knows no domain type: the server's wiring feeds it plain values (key names,
//! trigger and outcome labels, counts) and registers closures that read the gauges.
//!
//! Labels only ever take values from bounded sets (managed key names, event ids of running
//! migrations, the rpc methods of our own services, status codes), never caller input, so a
//! client cannot grow the series count.

use super::migration_rate::MigrationRate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prost::Message;

/// Upper bounds (seconds) of the rpc latency histogram: from 100 µs (a cached Encrypt on
/// loopback) to 10 s (an admin call waiting on a slow database).
const RPC_LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The method label of requests to paths that are not one of our rpcs.
const UNKNOWN_METHOD: &str = "unknown";

/// Why a request was refused authentication or authorization (`rekey_auth_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No bearer token and no listed client certificate.
    Missing,
    /// A token this server does not know, or a wrong secret.
    UnknownToken,
    Expired,
    Revoked,
    /// The address failed too often recently and is throttled.
    RateLimited,
    /// A valid token used beyond its role or scope.
    Forbidden,
}

impl AuthFailure {
    const ALL: [AuthFailure; 6] = [
        AuthFailure::Missing,
        AuthFailure::UnknownToken,
        AuthFailure::Expired,
        AuthFailure::Revoked,
        AuthFailure::RateLimited,
        AuthFailure::Forbidden,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::UnknownToken => "unknown_token",
            AuthFailure::Expired => "expired",
            AuthFailure::Revoked => "revoked",
            AuthFailure::RateLimited => "rate_limited",
            AuthFailure::Forbidden => "forbidden",
        }
    }
}

/// The outcomes of `rekey_migration_records_total`, in the order of [`MigrationOutcomes`].
const MIGRATION_OUTCOMES: [&str; 4] = ["migrated", "already_current", "skipped", "failed"];

/// Records of one migration batch by outcome (`rekey_migration_records_total{outcome}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MigrationOutcomes {
    pub(crate) migrated: u64,
    pub(crate) already_current: u64,
    pub(crate) skipped: u64,
    pub(crate) failed: u64,
}

/// One managed key's gauges, read at every scrape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyGauges {
    pub(crate) key: String,
    /// Age of the key's primary version.
    pub(crate) primary_age_secs: f64,
    pub(crate) rotation_interval_secs: f64,
    pub(crate) grace_period_secs: f64,
}

/// The metrics of one server.
pub(crate) struct Metrics {
    registry: prometheus::Registry,
    provider: SdkMeterProvider,
    meter: Meter,
    rpc_requests: Counter<u64>,
    rpc_duration: Histogram<f64>,
    http: super::http::HttpMetrics,
    rotations: Counter<u64>,
    migration_records: Counter<u64>,
    auth_failures: Counter<u64>,
    batch_items: Counter<u64>,
    task_restarts: Counter<u64>,
    /// The label value of each rpc path this server serves.
    methods: HashMap<String, Value>,
    unknown_method: Value,
    /// Records/s of the migration events this replica is working, by event id.
    migration_rates: Arc<Mutex<HashMap<String, MigrationRate>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics with every instrument registered and no observed sources yet; `rpc_paths` are
    /// the gRPC paths (`/package.Service/Method`) that get their own method label.
    pub(crate) fn new(rpc_paths: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .scope_info_enabled(false)
            .build()?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        let meter = provider.meter("rekey");
        let methods = rpc_paths
            .into_iter()
            .map(|path| {
                let label = path.trim_start_matches('/').to_owned();
                (path, Value::from(label))
            })
            .collect();
        let metrics = Self {
            rpc_requests: meter
                .u64_counter("rekey_rpc_requests")
                .with_description("gRPC requests by method and status code")
                .build(),
            rpc_duration: meter
                .f64_histogram("rekey_rpc_duration")
                .with_unit("s")
                .with_description(
                    "gRPC request latency, from the request headers to the end of the response",
                )
                .with_boundaries(RPC_LATENCY_BUCKETS.to_vec())
                .build(),
            http: super::http::HttpMetrics::new(&meter, &RPC_LATENCY_BUCKETS),
            rotations: meter
                .u64_counter("rekey_rotations")
                .with_description(
                    "Key rotations (and rollbacks) made by this replica, by trigger and outcome",
                )
                .build(),
            migration_records: meter
                .u64_counter("rekey_migration_records")
                .with_description(
                    "Stored records processed by this replica's migration worker, by outcome",
                )
                .build(),
            auth_failures: meter
                .u64_counter("rekey_auth_failures")
                .with_description("Requests refused authentication or authorization, by reason")
                .build(),
            batch_items: meter
                .u64_counter("rekey_batch_items")
                .with_description(
                    "Items of batch rpcs (EncryptBatch, DecryptBatch, RewrapBatch), by method and outcome (ok, error)",
                )
                .build(),
            task_restarts: meter
                .u64_counter("rekey_background_task_restarts")
                .with_description(
                    "Background tasks (migration worker, scheduler, refresh) restarted after a panic or an error, by task",
                )
                .build(),
            registry,
            provider,
            meter,
            methods,
            unknown_method: Value::from(UNKNOWN_METHOD),
            migration_rates: Arc::default(),
        };
        metrics.observe_migration_rates();
        Ok(metrics)
    }

    /// The gRPC paths of every service in `descriptor_sets` (encoded `FileDescriptorSet`s).
    pub(crate) fn rpc_paths(descriptor_sets: &[&[u8]]) -> anyhow::Result<Vec<String>> {
        let mut paths = Vec::new();
        for encoded in descriptor_sets {
            let set = prost_types::FileDescriptorSet::decode(*encoded)?;
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        paths.push(format!("/{package}.{}/{}", service.name(), method.name()));
                    }
                }
            }
        }
        Ok(paths)
    }

    /// Starts every counter series at zero — of `keys` (all managed keys) by each of
    /// `triggers`, of `encryption_keys` by migration outcome, and of every auth failure reason —
    /// so that the first rotation or failure shows as an increase instead of a series appearing.
    pub(crate) fn start_series(
        &self,
        keys: &[String],
        encryption_keys: &[String],
        triggers: &[&'static str],
    ) {
        for key in keys {
            for &trigger in triggers {
                for outcome in ["success", "failure"] {
                    self.rotations
                        .add(0, &rotation_labels(key, trigger, outcome));
                }
            }
        }
        for key in encryption_keys {
            for outcome in MIGRATION_OUTCOMES {
                self.migration_records.add(
                    0,
                    &[
                        KeyValue::new("key", key.clone()),
                        KeyValue::new("outcome", outcome),
                    ],
                );
            }
        }
        for reason in AuthFailure::ALL {
            self.auth_failures
                .add(0, &[KeyValue::new("reason", reason.as_str())]);
        }
    }

    /// Publishes the per-key gauges at every scrape, each reading the keys from `read` (which
    /// returns nothing once its source is gone).
    pub(crate) fn observe_keys(&self, read: impl Fn() -> Vec<KeyGauges> + Send + Sync + 'static) {
        let read: Arc<dyn Fn() -> Vec<KeyGauges> + Send + Sync> = Arc::new(read);
        let gauge =
            |name: &'static str, description: &'static str, value: fn(&KeyGauges) -> f64| {
                let read = Arc::clone(&read);
                self.meter
                    .f64_observable_gauge(name)
                    .with_unit("s")
                    .with_description(description)
                    .with_callback(move |observer| {
                        for key in read() {
                            observer.observe(value(&key), &[KeyValue::new("key", key.key.clone())]);
                        }
                    })
                    .build()
            };
        gauge(
            "rekey_key_primary_age",
            "Age of the key's primary (active) version",
            |k| k.primary_age_secs,
        );
        gauge(
            "rekey_key_rotation_interval",
            "The key's rotation interval",
            |k| k.rotation_interval_secs,
        );
        gauge(
            "rekey_key_grace_period",
            "How long a deprecated version of the key stays usable for decryption",
            |k| k.grace_period_secs,
        );
    }

    /// Publishes the records/s of the migration events this replica is working at every
    /// scrape (the worker reports them through [`Metrics::migration_batch`]).
    fn observe_migration_rates(&self) {
        let rates = Arc::downgrade(&self.migration_rates);
        self.meter
            .f64_observable_gauge("rekey_migration_records_per_second")
            .with_description("Current throughput of each migration event this replica is working")
            .with_callback(move |observer| {
                let Some(rates) = rates.upgrade() else { return };
                let rates = rates.lock().unwrap_or_else(|p| p.into_inner());
                // An event appears once this replica has measured a batch of it.
                for (event_id, rate) in rates.iter().filter(|(_, r)| r.measured()) {
                    observer.observe(
                        rate.records_per_second(),
                        &[
                            KeyValue::new("key", rate.key().to_owned()),
                            KeyValue::new("event_id", event_id.clone()),
                        ],
                    );
                }
            })
            .build();
    }

    /// Publishes the audit trail's write failures (a running total read by `read`) at every
    /// scrape.
    pub(crate) fn observe_audit_write_failures(
        &self,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) {
        self.meter
            .u64_observable_counter("rekey_audit_write_failures")
            .with_description("Audit records that could not be written to the keystore database")
            .with_callback(move |observer| observer.observe(read(), &[]))
            .build();
    }

    /// `rekey_root_key_available`: 1 while the root key can wrap and unwrap, 0 while not.
    pub(crate) fn observe_root_key(&self, available: impl Fn() -> bool + Send + Sync + 'static) {
        self.meter
            .u64_observable_gauge("rekey_root_key_available")
            .with_description("1 while the root key (local or in a token) can be used, else 0")
            .with_callback(move |observer| observer.observe(u64::from(available()), &[]))
            .build();
    }

    /// The method label for a request path: our rpcs by name, anything else `unknown`.
    pub(crate) fn method_label(&self, path: &str) -> Value {
        self.methods
            .get(path)
            .unwrap_or(&self.unknown_method)
            .clone()
    }

    /// One finished rpc.
    pub(crate) fn rpc_finished(&self, method: Value, code: tonic::Code, elapsed: Duration) {
        let labels = [
            KeyValue::new("method", method),
            KeyValue::new("code", code_name(code)),
        ];
        self.rpc_requests.add(1, &labels);
        self.rpc_duration.record(elapsed.as_secs_f64(), &labels);
    }

    /// One finished HTTP request (see [`super::http::HttpMetrics::finished`]).
    pub(crate) fn http_finished(
        &self,
        route: &str,
        method: &http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        self.http.finished(route, method, status, elapsed);
    }

    /// A rotation or rollback attempt that got as far as changing (or failing to change) the
    /// keystore. Refusals (not due, rotated recently, disabled) are not rotations.
    /// `trigger` is the trigger's label (`scheduled`, `manual`, `emergency`, `rollback`).
    pub(crate) fn rotation(&self, key: &str, trigger: &'static str, success: bool) {
        let outcome = if success { "success" } else { "failure" };
        self.rotations
            .add(1, &rotation_labels(key, trigger, outcome));
    }

    /// The items of one answered batch rpc: `ok` succeeded, `failed` got an error of their own.
    pub(crate) fn batch_items(&self, method: &'static str, ok: u64, failed: u64) {
        for (outcome, n) in [("ok", ok), ("error", failed)] {
            if n > 0 {
                self.batch_items.add(
                    n,
                    &[
                        KeyValue::new("method", method),
                        KeyValue::new("outcome", outcome),
                    ],
                );
            }
        }
    }

    pub(crate) fn auth_failure(&self, reason: AuthFailure) {
        self.auth_failures
            .add(1, &[KeyValue::new("reason", reason.as_str())]);
    }

    /// One recorded migration batch of `event_id` (of `key`): adds its outcomes and its
    /// `processed` records to the event's rate on this replica (records over wall time, so
    /// throttling included; `started` begins the event's first window if no lane has).
    pub(crate) fn migration_batch(
        &self,
        key: &str,
        event_id: &str,
        outcomes: MigrationOutcomes,
        processed: u64,
        started: Instant,
    ) {
        for (outcome, n) in MIGRATION_OUTCOMES.iter().zip([
            outcomes.migrated,
            outcomes.already_current,
            outcomes.skipped,
            outcomes.failed,
        ]) {
            if n > 0 {
                self.migration_records.add(
                    n,
                    &[
                        KeyValue::new("key", key.to_owned()),
                        KeyValue::new("outcome", *outcome),
                    ],
                );
            }
        }
        self.migration_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(event_id.to_owned())
            .or_insert_with(|| MigrationRate::new(key, started))
            .add(processed, Instant::now());
    }

    /// A lane of this replica started working `event_id` (of `key`).
    pub(crate) fn migration_started(&self, key: &str, event_id: &str) {
        let mut rates = self
            .migration_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        rates
            .entry(event_id.to_owned())
            .or_insert_with(|| MigrationRate::new(key, Instant::now()))
            .lane_started();
    }

    /// A lane of this replica stopped working `event_id` (finished, failed or lost its
    /// lease): the event's rate series goes away with the last one.
    pub(crate) fn migration_stopped(&self, event_id: &str) {
        let mut rates = self
            .migration_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if rates
            .get_mut(event_id)
            .is_some_and(MigrationRate::lane_stopped)
        {
            rates.remove(event_id);
        }
    }

    /// Starts the restart series of a background task at zero.
    pub(crate) fn background_task_started(&self, task: &'static str) {
        self.task_restarts.add(0, &[KeyValue::new("task", task)]);
    }

    /// A background task that panicked or failed is being restarted.
    pub(crate) fn background_task_restarted(&self, task: &'static str) {
        self.task_restarts.add(1, &[KeyValue::new("task", task)]);
    }

    /// Everything, in Prometheus text exposition format.
    pub(crate) fn render(&self) -> anyhow::Result<String> {
        use prometheus::Encoder as _;
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

fn rotation_labels(key: &str, trigger: &'static str, outcome: &'static str) -> [KeyValue; 3] {
    [
        KeyValue::new("key", key.to_owned()),
        KeyValue::new("trigger", trigger),
        KeyValue::new("outcome", outcome),
    ]
}

/// The canonical gRPC name of a status code, as in the gRPC specification.
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
