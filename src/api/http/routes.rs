//! Route handlers. Every `/api/v1/key-rotation/...` route needs an admin: an admin bearer
//! token, or over HTTPS a client certificate listed in `[[tls.clients]]` with the admin role.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{
    EventJson, ExecuteRequest, ImpactJson, ScheduleJson, ScheduleRequest, ScheduledJson, StatusJson,
};
use super::error::HttpError;
use super::extract::{HttpCredentials, Path, Query};
use super::openapi::{ErrorBody, KEY_ROTATION, META};
use crate::admin::query::EventQuery;
use crate::admin::report_text;
use crate::admin::reports::ReportKind;
use crate::admin::Admin;
use crate::admin::AdminError;
use crate::api::guard;
use crate::auth::{Authenticator, Principal};
use crate::rotation::RotationEngine;
use axum::http::StatusCode;

#[derive(Debug, Clone)]
pub(crate) struct HttpState {
    /// For the metrics it renders at /metrics.
    pub(crate) engine: Arc<RotationEngine>,
    pub(crate) auth: Arc<Authenticator>,
    /// The admin core, the same one the gRPC services use.
    pub(crate) admin: Arc<Admin>,
    /// The batch limits of the gRPC batch rpcs, which Transit's `batch_input` keeps too.
    pub(crate) limits: crate::api::batch::BatchLimits,
    /// Vault Transit's API, when it is on.
    pub(crate) transit: Option<super::transit::TransitSettings>,
}

impl HttpState {
    fn admin(&self) -> &Admin {
        &self.admin
    }
}

pub(super) type HttpResult<T> = Result<Json<T>, HttpError>;

/// Authenticates an admin by a listed client certificate or the `authorization` header, as
/// gRPC does.
pub(super) async fn admin(
    state: &HttpState,
    credentials: &HttpCredentials,
    route: &str,
) -> Result<Arc<Principal>, HttpError> {
    Ok(guard::admin_caller(&state.auth, credentials.borrowed(), route).await?)
}

pub(super) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, HttpError> {
    payload.map(|Json(v)| v).map_err(HttpError::from)
}

#[utoipa::path(get, path = "/api/v1/key-rotation/status", tag = KEY_ROTATION,
    operation_id = "getKeyStatus", summary = "Check key status",
    description = "Status of every key against its rotation policy: versions and their lifecycle state, key age, next rotation due and alert level. First step of an emergency rotation (assess impact). Read-only and safe to retry; on 503 retry with backoff.",
    responses((status = 200, description = "Every managed key", body = StatusJson)))]
pub(super) async fn status(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
) -> HttpResult<StatusJson> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/status").await?;
    Ok(Json(state.admin().status(None).await?))
}

#[utoipa::path(get, path = "/api/v1/key-rotation/impact/{key_type}", tag = KEY_ROTATION,
    operation_id = "getImpact", summary = "Get affected records count",
    description = "How many stored records in the key's migration targets still use each version of the key; reads only the ciphertext headers and decrypts nothing. Read-only and safe to retry; on 503 retry with backoff.",
    params(("key_type" = String, Path, description = "Key name, e.g. `TOKEN_ENCRYPTION`.", pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "TOKEN_ENCRYPTION")),
    responses(
        (status = 200, description = "Records per version, in total and per target", body = ImpactJson),
        (status = 400, description = "INVALID_ARGUMENT: malformed key name", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such key", body = ErrorBody),
    ))]
pub(super) async fn impact(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Path(key_type): Path<String>,
) -> HttpResult<ImpactJson> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/impact").await?;
    Ok(Json(state.admin().impact(&key_type).await?))
}

#[utoipa::path(get, path = "/api/v1/key-rotation/schedule", tag = KEY_ROTATION,
    operation_id = "getSchedule", summary = "Get rotation schedule",
    description = "Per key: last rotation, next due time and whether it is due; and when the automated scheduler runs next. Read-only and safe to retry; on 503 retry with backoff.",
    responses((status = 200, description = "The schedule", body = ScheduleJson)))]
pub(super) async fn schedule(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
) -> HttpResult<ScheduleJson> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/schedule").await?;
    Ok(Json(state.admin().schedule().await?))
}

#[utoipa::path(post, path = "/api/v1/key-rotation/schedule", tag = KEY_ROTATION,
    operation_id = "scheduleRotation", summary = "Schedule rotation for specific key type",
    description = "Rotates the key now if it is due (its primary is older than the rotation interval), or at once with `force: true` (emergency rotation after a security breach or key compromise), and starts migrating its targets in the background; follow progress with GET /events/{event_id}. When the key is not due and `force` is false nothing changes: 200 with `rotated: false` and a `reason`. Not idempotent with `force`: after a timeout or 503, check GET /events?key_type=... before retrying, or a second rotation may be made.",
    request_body(content = ScheduleRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Rotated (`rotated: true` and the event), or not due (`rotated: false` and a `reason`)", body = ScheduledJson),
        (status = 400, description = "INVALID_ARGUMENT: the body is not JSON, has an unknown field or a wrong type, or the key name is malformed", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such key", body = ErrorBody),
        (status = 409, description = "FAILED_PRECONDITION: rotation is disabled, or a migration of this key is still running (finish, retry or roll it back first, or pass `force: true` to supersede it)", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: the body is not sent as `Content-Type: application/json`", body = ErrorBody),
    ))]
pub(super) async fn schedule_rotation(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    payload: Result<Json<ScheduleRequest>, JsonRejection>,
) -> HttpResult<ScheduledJson> {
    let principal = admin(&state, &credentials, "POST /api/v1/key-rotation/schedule").await?;
    let request = body(payload)?;
    let scheduled = state
        .admin()
        .schedule_rotation(&request.key_type, request.force, &principal.id)
        .await?;
    Ok(Json(scheduled))
}

#[utoipa::path(get, path = "/api/v1/key-rotation/events/{event_id}", tag = KEY_ROTATION,
    operation_id = "getEvent", summary = "Check rotation status",
    description = "One rotation event with its status, progress counts per target, checkpoint and last error: monitor a rotation, check a stuck or failed one, or verify rollback completion. Read-only and safe to retry; on 503 retry with backoff.",
    params(("event_id" = String, Path, description = "Rotation event id (`evt-` and 24 hex digits), as returned by POST /schedule or GET /events.", min_length = 1, example = "evt-0123456789abcdef01234567")),
    responses(
        (status = 200, description = "The event", body = EventJson),
        (status = 404, description = "NOT_FOUND: no such event", body = ErrorBody),
    ))]
pub(super) async fn event(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/events/{id}").await?;
    Ok(Json(state.admin().event(&event_id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// Only events of this key; omit for every key.
    #[param(pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "TOKEN_ENCRYPTION")]
    key_type: Option<String>,
    /// Only events with this status; omit or leave empty for every status.
    #[param(schema_with = super::dto::event_status_filter)]
    status: Option<String>,
    /// Most events to return: 0 or none means 50, above 1000 means 1000.
    #[param(minimum = 0, maximum = 4_294_967_295_u64, default = 50)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/key-rotation/events", tag = KEY_ROTATION,
    operation_id = "listEvents", summary = "List rotation events",
    description = "Rotation events, newest first, optionally filtered by key and status. Read-only and safe to retry; on 503 retry with backoff.",
    params(EventsQuery),
    responses(
        (status = 200, description = "The events, newest first", body = [EventJson]),
        (status = 400, description = "INVALID_ARGUMENT: malformed key name, unknown status, or a `limit` that is not a whole number from 0 to 4294967295", body = ErrorBody),
    ))]
pub(super) async fn events(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Query(query): Query<EventsQuery>,
) -> HttpResult<Vec<EventJson>> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/events").await?;
    let query = EventQuery::parse(
        query.key_type.as_deref(),
        query.status.as_deref(),
        query.limit,
    )?;
    Ok(Json(state.admin().events(&query).await?))
}

#[utoipa::path(post, path = "/api/v1/key-rotation/retry/{event_id}", tag = KEY_ROTATION,
    operation_id = "retryEvent", summary = "Retry failed rotation",
    description = "Resumes a failed event's migration from its checkpoint; returns at once with the event, follow progress with GET /events/{event_id}. Safe to retry; on 503 retry with backoff.",
    params(("event_id" = String, Path, description = "Rotation event id (`evt-` and 24 hex digits), as returned by POST /schedule or GET /events.", min_length = 1, example = "evt-0123456789abcdef01234567")),
    responses(
        (status = 200, description = "The event, running again", body = EventJson),
        (status = 404, description = "NOT_FOUND: no such event", body = ErrorBody),
        (status = 409, description = "FAILED_PRECONDITION: the event has not failed, another event of the same key is unfinished, or a newer rotation or rollback superseded it", body = ErrorBody),
    ))]
pub(super) async fn retry(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &credentials, "POST /api/v1/key-rotation/retry").await?;
    Ok(Json(state.admin().retry(&event_id, &principal.id).await?))
}

#[utoipa::path(post, path = "/api/v1/key-rotation/execute", tag = KEY_ROTATION,
    operation_id = "executeEvent", summary = "Execute with smaller batch size",
    description = "Runs or continues the event's migration now, with `batch_size` (if given) from now on: adjust batch size and throttle a high-volume migration. A failed event is resumed from its checkpoint, as POST /retry does. Returns at once with the event; follow progress with GET /events/{event_id}. Safe to retry; on 503 retry with backoff.",
    request_body(content = ExecuteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The event, running", body = EventJson),
        (status = 400, description = "INVALID_ARGUMENT: the body is not JSON, has an unknown field or a wrong type, `event_id` is empty, or `batch_size` is 0 or above 100000", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such event", body = ErrorBody),
        (status = 409, description = "FAILED_PRECONDITION: the event is completed or rolled back, another event of the same key is unfinished, or a newer rotation superseded it", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: the body is not sent as `Content-Type: application/json`", body = ErrorBody),
    ))]
pub(super) async fn execute(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    payload: Result<Json<ExecuteRequest>, JsonRejection>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &credentials, "POST /api/v1/key-rotation/execute").await?;
    let request = body(payload)?;
    let event = state
        .admin()
        .execute(&request.event_id, request.batch_size, &principal.id)
        .await?;
    Ok(Json(event))
}

#[utoipa::path(post, path = "/api/v1/key-rotation/rollback/{event_id}", tag = KEY_ROTATION,
    operation_id = "rollbackEvent", summary = "Rollback to previous key",
    description = "Rolls the event back: its from-version becomes primary again, its to-version becomes deprecated, and the worker migrates the records already moved back; the event ends `rolled_back`. No key material is destroyed. Verify rollback completion with GET /events/{event_id}. A second call on an event already rolling back is refused with 409, changing nothing.",
    params(("event_id" = String, Path, description = "Rotation event id (`evt-` and 24 hex digits), as returned by POST /schedule or GET /events.", min_length = 1, example = "evt-0123456789abcdef01234567")),
    responses(
        (status = 200, description = "The event, rolling back", body = EventJson),
        (status = 404, description = "NOT_FOUND: no such event", body = ErrorBody),
        (status = 409, description = "FAILED_PRECONDITION: rotation is disabled; the event is already rolled back or rolling back; the key was rotated again since; or the from-version is retired", body = ErrorBody),
    ))]
pub(super) async fn rollback(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &credentials, "POST /api/v1/key-rotation/rollback").await?;
    let event = state
        .admin()
        .rollback_event(&event_id, &principal.id)
        .await?;
    Ok(Json(event))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// Report kind (`post-rotation` is accepted too); omit or leave empty for `post_rotation`.
    #[param(schema_with = super::dto::report_kind)]
    kind: Option<String>,
    /// Start of the period (inclusive), RFC 3339, e.g. `2026-01-01T00:00:00Z`; omit or leave
    /// empty for `to` minus 1, 7, 30 or 90 days by kind.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the period (exclusive), RFC 3339; omit or leave empty for now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// `json` (the default), `csv` (the report's main list, one row per record) or `markdown`
    /// (a document with the summary and every table): the same text `rekey report --format`
    /// writes, sent as a download.
    #[param(pattern = "^(json|csv|markdown)$")]
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/key-rotation/report", tag = KEY_ROTATION,
    operation_id = "getReport", summary = "Generate report",
    description = "Builds a report over [from, to): `post_rotation` (default: per event key, versions, duration, counts, records/second, errors), `weekly` (key status summary), `monthly` (rotation performance), `quarterly` (compliance audit). The period ends now by default and spans 1, 7, 30 or 90 days according to the kind. Read-only and safe to retry; on 503 retry with backoff.",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report; its `kind` field names which (JSON), or its text with `format=csv` (text/csv) or `format=markdown` (text/markdown), as a download", body = Object),
        (status = 400, description = "INVALID_ARGUMENT: unknown kind, or `from`/`to` not an RFC 3339 time", body = ErrorBody),
    ))]
pub(super) async fn report(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Query(query): Query<ReportQuery>,
) -> Result<axum::response::Response, HttpError> {
    admin(&state, &credentials, "GET /api/v1/key-rotation/report").await?;
    let format = query
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("json");
    if !["json", "csv", "markdown"].contains(&format) {
        return Err(HttpError::bad_request(format!(
            "unknown format {:?}; use json, csv or markdown",
            crate::excerpt::excerpt(format, 40)
        )));
    }
    let report = state
        .admin()
        .report_from_text(
            query.kind.as_deref(),
            query.from.as_deref(),
            query.to.as_deref(),
        )
        .await?;
    if format == "json" {
        return Ok(Json(report).into_response());
    }
    let kind = ReportKind::from_request(query.kind.as_deref()).map_err(AdminError::from)?;
    let value = serde_json::to_value(&report)
        .map_err(|e| HttpError::with_status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (text, content_type, extension) = if format == "csv" {
        (
            report_text::csv(kind, &value),
            "text/csv; charset=utf-8",
            "csv",
        )
    } else {
        (
            report_text::markdown(kind, &value),
            "text/markdown; charset=utf-8",
            "md",
        )
    };
    let disposition = format!(
        "attachment; filename=\"rekey-{}-report.{extension}\"",
        kind.as_str()
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// Prometheus scrape endpoint. Unauthenticated, like most scrape targets: it shows key names,
/// versions' ages and counts, never key material; keep the HTTP port on a private network.
#[utoipa::path(get, path = "/metrics", tag = META, operation_id = "getMetrics",
    summary = "Prometheus metrics",
    description = "The Prometheus scrape endpoint (text exposition format). Needs no token.",
    responses((status = 200, description = "Metrics in Prometheus text format", content_type = "text/plain", body = String)))]
pub(super) async fn metrics(State(state): State<HttpState>) -> axum::response::Response {
    match state.engine.metrics().render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => HttpError::from(tonic::Status::internal(format!(
            "cannot render metrics: {e}"
        )))
        .into_response(),
    }
}
