//! A span per HTTP request, continuing the caller's W3C trace (`traceparent`), and the request
//! count and latency by route, method and status (`rekey_http_requests_total`,
//! `rekey_http_duration_seconds`), as the gRPC layer does for rpcs.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{field::Empty, Instrument};

use crate::telemetry::metrics::Metrics;

/// The route label of a request that matched no route.
const UNKNOWN_ROUTE: &str = "unknown";

pub(super) async fn http_span(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // The route template, not the raw path: ids in paths become neither span names nor labels,
    // and the templates are the router's own, a bounded set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNKNOWN_ROUTE, |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    // Debug level: only trace export enables it (see `telemetry::install`).
    let span = tracing::debug_span!(
        "http",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    crate::telemetry::trace_context::continue_trace(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    metrics.http_finished(&route, &method, status.as_u16(), started.elapsed());
    response
}
