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
    EventJson, ExecuteRequest, ImpactJson, Report, ScheduleJson, ScheduleRequest, ScheduledJson,
    StatusJson,
};
use super::error::HttpError;
use crate::admin::query::EventQuery;
use crate::admin::Admin;
use crate::auth::{Authenticator, Principal};
use crate::rotation::scheduler::Scheduler;
use crate::rotation::RotationEngine;

#[derive(Debug, Clone)]
pub(crate) struct HttpState {
    pub(crate) engine: Arc<RotationEngine>,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) auth: Arc<Authenticator>,
}

impl HttpState {
    /// The admin core over this state's engine, scheduler and tokens.
    fn admin(&self) -> Admin {
        Admin::new(
            Arc::clone(&self.engine),
            Arc::clone(&self.scheduler),
            Arc::clone(&self.auth),
        )
    }
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
    Ok(Json(state.admin().status(None).await?))
}

async fn impact(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(key_type): Path<String>,
) -> HttpResult<ImpactJson> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/impact").await?;
    Ok(Json(state.admin().impact(&key_type).await?))
}

async fn schedule(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> HttpResult<ScheduleJson> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/schedule").await?;
    Ok(Json(state.admin().schedule().await?))
}

async fn schedule_rotation(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    payload: Result<Json<ScheduleRequest>, JsonRejection>,
) -> HttpResult<ScheduledJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/schedule").await?;
    let request = body(payload)?;
    let scheduled = state
        .admin()
        .schedule_rotation(&request.key_type, request.force, &principal.id)
        .await?;
    Ok(Json(scheduled))
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
    Ok(Json(state.admin().event(&event_id).await?))
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
    let query = EventQuery::parse(
        query.key_type.as_deref(),
        query.status.as_deref(),
        query.limit,
    )?;
    Ok(Json(state.admin().events(&query).await?))
}

async fn retry(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/retry").await?;
    Ok(Json(state.admin().retry(&event_id, &principal.id).await?))
}

async fn execute(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    payload: Result<Json<ExecuteRequest>, JsonRejection>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/execute").await?;
    let request = body(payload)?;
    let event = state
        .admin()
        .execute(&request.event_id, request.batch_size, &principal.id)
        .await?;
    Ok(Json(event))
}

async fn rollback(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(event_id): Path<String>,
) -> HttpResult<EventJson> {
    let principal = admin(&state, &headers, peer, "POST /api/v1/key-rotation/rollback").await?;
    let event = state
        .admin()
        .rollback_event(&event_id, &principal.id)
        .await?;
    Ok(Json(event))
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
) -> HttpResult<Report> {
    admin(&state, &headers, peer, "GET /api/v1/key-rotation/report").await?;
    let report = state
        .admin()
        .report_from_text(
            query.kind.as_deref(),
            query.from.as_deref(),
            query.to.as_deref(),
        )
        .await?;
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
