//! Route handlers. Every `/api/v1/key-rotation/...` route needs an admin bearer token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::dto::{
    time, EventJson, ExecuteRequest, ImpactJson, KeyScheduleJson, KeyStatusJson, ScheduleJson,
    ScheduleRequest, ScheduledJson, StatusJson,
};
use super::error::HttpError;
use crate::auth::{Authenticator, Principal};
use crate::clock::MILLIS_PER_SEC;
use crate::reports::{self, ReportKind};
use crate::rotation::engine::ScheduleOutcome;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::{BatchSize, RotationEngine};

#[derive(Debug, Clone)]
pub(crate) struct HttpState {
    pub(crate) engine: Arc<RotationEngine>,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) auth: Arc<Authenticator>,
}

type HttpResult<T> = Result<Json<T>, HttpError>;

pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/api/v1/key-rotation/status", get(status))
        .route("/api/v1/key-rotation/impact/{key_type}", get(impact))
        .route(
            "/api/v1/key-rotation/schedule",
            get(schedule).post(schedule_rotation),
        )
        .route("/api/v1/key-rotation/events/{event_id}", get(event))
        .route("/api/v1/key-rotation/events", get(events))
        .route("/api/v1/key-rotation/retry/{event_id}", post(retry))
        .route("/api/v1/key-rotation/execute", post(execute))
        .route("/api/v1/key-rotation/rollback/{event_id}", post(rollback))
        .route("/api/v1/key-rotation/report", get(report))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(super::trace::http_span))
        .with_state(state)
}

/// Authenticates an admin from the `authorization` header.
async fn admin(
    state: &HttpState,
    headers: &HeaderMap,
    peer: SocketAddr,
    route: &str,
) -> Result<Arc<Principal>, HttpError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = state
        .auth
        .authenticate(header, Some(peer.ip()), route)
        .await?;
    state.auth.admin_only(&principal, route).await?;
    Ok(principal)
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, HttpError> {
    payload.map(|Json(v)| v).map_err(|rejection| {
        HttpError::bad_request(format!("invalid JSON body: {}", rejection.body_text()))
    })
}

async fn status(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> HttpResult<StatusJson> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/status").await?;
    let manager = state.engine.manager();
    let snapshots = manager.snapshots(None).await?;
    let now = manager.now();
    Ok(Json(StatusJson {
        generated_at: time(now),
        keys: snapshots
            .iter()
            .map(|s| KeyStatusJson::new(s, now))
            .collect(),
    }))
}

async fn impact(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(key_type): Path<String>,
) -> HttpResult<ImpactJson> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/impact").await?;
    let impact = state.engine.impact(&key_type).await?;
    Ok(Json(ImpactJson::new(&key_type, &impact)))
}

async fn schedule(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> HttpResult<ScheduleJson> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/schedule").await?;
    let manager = state.engine.manager();
    let snapshots = manager.snapshots(None).await?;
    let now = manager.now();
    let next_run = state.scheduler.next_run(now);
    Ok(Json(ScheduleJson {
        scheduler_enabled: next_run.is_some(),
        cron: state.engine.settings().schedule_cron.clone(),
        next_run: next_run.map(time),
        keys: snapshots
            .iter()
            .map(|s| {
                let last = s.primary_created_at();
                let due = last + s.record.policy.rotation_interval_secs * MILLIS_PER_SEC;
                KeyScheduleJson {
                    key_type: s.record.name.clone(),
                    primary_version: s.record.primary_version,
                    last_rotation: time(last),
                    next_rotation_due: time(due),
                    due: due <= now,
                }
            })
            .collect(),
    }))
}

async fn schedule_rotation(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    payload: Result<Json<ScheduleRequest>, JsonRejection>,
) -> HttpResult<ScheduledJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/schedule").await?;
    let request = body(payload)?;
    let outcome = state
        .engine
        .schedule_rotation(&request.key_type, request.force, &principal.id)
        .await?;
    Ok(Json(match outcome {
        ScheduleOutcome::Rotated(event) => ScheduledJson {
            rotated: true,
            event: Some(EventJson::from(event.as_ref())),
            reason: None,
        },
        ScheduleOutcome::NotDue(reason) => ScheduledJson {
            rotated: false,
            event: None,
            reason: Some(reason),
        },
    }))
}

async fn event(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    admin(
        &state,
        &headers,
        peer,
        "GET /api/v1/key-rotation/events/{id}",
    )
    .await?;
    let event = state.engine.get_event(&event_id).await?;
    Ok(Json(EventJson::from(&event)))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    key_type: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

async fn events(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> HttpResult<Vec<EventJson>> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/events").await?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            crate::rotation::events::EventStatus::parse(s).ok_or_else(|| {
                HttpError::bad_request(format!(
                "unknown status {s:?}; use pending, in_progress, completed, failed or rolled_back"
            ))
            })?,
        ),
    };
    if let Some(key) = query.key_type.as_deref() {
        crate::crypto::validate_key_name(key).map_err(|_| {
            HttpError::bad_request(crate::keystore::KeyError::invalid_key_name(key).to_string())
        })?;
    }
    let limit = query.limit.filter(|l| *l > 0).unwrap_or(50).min(1000);
    let events = state
        .engine
        .list_events(query.key_type.as_deref(), status, limit)
        .await?;
    Ok(Json(events.iter().map(EventJson::from).collect()))
}

async fn retry(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/retry").await?;
    let event = state.engine.retry(&event_id, &principal.id).await?;
    Ok(Json(EventJson::from(&event)))
}

async fn execute(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    payload: Result<Json<ExecuteRequest>, JsonRejection>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/execute").await?;
    let request = body(payload)?;
    let batch_size = request
        .batch_size
        .map(BatchSize::new)
        .transpose()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let event = state
        .engine
        .execute(&request.event_id, batch_size, &principal.id)
        .await?;
    Ok(Json(EventJson::from(&event)))
}

async fn rollback(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/rollback").await?;
    let event = state
        .engine
        .rollback_event(&event_id, &principal.id)
        .await?;
    Ok(Json(EventJson::from(&event)))
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn report(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/report").await?;
    let kind = match query.kind.as_deref() {
        None | Some("") => ReportKind::PostRotation,
        Some(k) => ReportKind::parse(k).ok_or_else(|| {
            HttpError::bad_request(format!(
                "unknown report kind {k:?}; use post_rotation, weekly, monthly or quarterly"
            ))
        })?,
    };
    let parse = |name: &str, value: Option<&str>| -> Result<Option<i64>, HttpError> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.timestamp_millis())
                    .map_err(|_| {
                        HttpError::bad_request(format!(
                            "{name} must be an RFC 3339 time such as 2026-01-31T00:00:00Z"
                        ))
                    })
            })
            .transpose()
    };
    let from = parse("from", query.from.as_deref())?;
    let to = parse("to", query.to.as_deref())?;
    let report = reports::build(&state.engine, kind, from, to).await?;
    Ok(Json(report))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI)
}

/// Prometheus scrape endpoint. Unauthenticated, like most scrape targets: it shows key names,
/// versions' ages and counts, never key material; keep the HTTP port on a private network.
async fn metrics(State(state): State<HttpState>) -> axum::response::Response {
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

async fn not_found() -> HttpError {
    HttpError::not_found("no such route; the routes are listed in /api/v1/openapi.json")
}
