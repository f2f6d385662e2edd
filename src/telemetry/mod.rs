//! Logs, traces and metrics.
//!
//! - Logs: human-readable or JSON (`log_format`) on stderr; the filter comes from `REKEY_LOG`
//!   (then `RUST_LOG`), default `info`.
//! - Traces: off unless an OTLP endpoint is configured (`otlp_endpoint`, `REKEY_OTLP_ENDPOINT`
//!   or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`); then spans go to it over OTLP/gRPC, and a
//!   caller's W3C `traceparent` is continued. Spans name keys, versions and event ids; plaintext
//!   and key material are never span fields.
//! - Metrics: per server, see `metrics`; served at `GET /metrics` on the HTTP port.

pub(crate) mod http;
pub(crate) mod metrics;
mod migration_rate;
pub(crate) mod rpc;
pub(crate) mod trace_context;

use std::io::IsTerminal;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{
    fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _, EnvFilter, Layer as _,
};

pub(crate) use metrics::Metrics;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A log format name other than `text` or `json`.
#[derive(Debug, thiserror::Error)]
#[error("expected \"text\" or \"json\", got {0:?}")]
pub struct UnknownLogFormat(String);

impl std::str::FromStr for LogFormat {
    type Err = UnknownLogFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(UnknownLogFormat(other.to_owned())),
        }
    }
}

/// Where and how traces are exported.
#[derive(Debug, Clone)]
pub(crate) struct TraceExport {
    /// OTLP/gRPC endpoint, e.g. `http://otel-collector:4317`.
    pub(crate) endpoint: String,
    /// Fraction of new traces sampled (a caller's sampling decision is followed).
    pub(crate) sample_ratio: f64,
}

/// Flushes exported spans when dropped (at the end of `rekey serve`).
#[derive(Debug, Default)]
#[must_use = "dropping the guard stops the trace export"]
pub(crate) struct TelemetryGuard {
    tracer: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            if let Err(e) = tracer.shutdown() {
                eprintln!("rekey: could not flush the last trace spans: {e}");
            }
        }
    }
}

/// Logging only (CLI commands other than `serve`).
pub fn init(format: LogFormat) {
    let _ = install(format, None);
}

/// Logging, and trace export when `traces` is set. Must run inside the Tokio runtime (the
/// OTLP exporter uses it). A second call in one process (tests) keeps the first subscriber.
pub(crate) fn init_server(
    format: LogFormat,
    traces: Option<&TraceExport>,
) -> anyhow::Result<TelemetryGuard> {
    install(format, traces)
}

fn install(format: LogFormat, traces: Option<&TraceExport>) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    // Each layer has its own filter. The log filter (default `info`) never asks for the
    // per-request spans (`debug` level), so without trace export nothing enables them and they
    // cost nothing; the trace layer asks for them when export is on.
    let log_filter = EnvFilter::try_from_env("REKEY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let log = match format {
        LogFormat::Text => fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    }
    .with_filter(log_filter);
    let tracer = traces.map(tracer_provider).transpose()?;
    let otel = tracer.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("rekey"))
            .with_filter(
                Targets::new()
                    .with_default(LevelFilter::INFO)
                    .with_target("rekey", LevelFilter::DEBUG),
            )
    });
    let installed = tracing_subscriber::registry()
        .with(log)
        .with(otel)
        .try_init();
    if installed.is_err() {
        // Already installed in this process: keep that one, and export nothing from here.
        if let Some(tracer) = tracer {
            let _ = tracer.shutdown();
        }
        return Ok(TelemetryGuard::default());
    }
    if let Some(traces) = traces {
        tracing::info!(endpoint = %traces.endpoint, sample_ratio = traces.sample_ratio, "exporting traces over OTLP");
    }
    Ok(TelemetryGuard { tracer })
}

fn tracer_provider(traces: &TraceExport) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(traces.endpoint.clone())
        .build()
        .with_context(|| format!("cannot set up OTLP trace export to {}", traces.endpoint))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("rekey");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            traces.sample_ratio,
        ))))
        .with_resource(resource.build())
        .build())
}
