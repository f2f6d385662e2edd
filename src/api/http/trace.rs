//! A span per HTTP request, continuing the caller's W3C trace (`traceparent`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{field::Empty, Instrument};

pub(super) async fn http_span(request: Request, next: Next) -> Response {
    // The route template, not the raw path: ids in paths do not become span names.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // Debug level: only trace export enables it (see `telemetry::install`).
    let span = tracing::debug_span!(
        "http",
        otel.name = format!("{} {route}", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = Empty,
    );
    crate::telemetry::trace_context::continue_trace(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
