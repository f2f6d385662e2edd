//! `[telemetry]`: log format and trace export.

use serde::Deserialize;

use super::ConfigError;
use crate::telemetry::{LogFormat, TraceExport};

/// `[telemetry]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint traces are exported to (e.g. `http://otel-collector:4317`); unset
    /// means no trace export. `REKEY_OTLP_ENDPOINT`, or the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces exported, 0.0–1.0 (a caller's own sampling decision, carried in
    /// `traceparent`, is followed).
    pub trace_sample_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            trace_sample_ratio: 1.0,
        }
    }
}

impl TelemetryConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            return Err(ConfigError::Invalid(format!(
                "telemetry.trace_sample_ratio must be between 0.0 and 1.0, got {}",
                self.trace_sample_ratio
            )));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "telemetry.otlp_endpoint {endpoint:?} must be an http:// or https:// URL of an OTLP/gRPC receiver, e.g. http://otel-collector:4317"
                )));
            }
        }
        Ok(())
    }

    /// Trace export settings, when an OTLP endpoint is configured.
    pub(crate) fn trace_export(&self) -> Option<TraceExport> {
        self.otlp_endpoint.as_ref().map(|endpoint| TraceExport {
            endpoint: endpoint.clone(),
            sample_ratio: self.trace_sample_ratio,
        })
    }
}
