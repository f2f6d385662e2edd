//! `rekey.v1.RotationService` over tonic: a thin adapter from protobuf to `RotationEngine`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::{convert, guard};
use crate::auth::Authenticator;
use crate::proto::{self, rotation_service_server::RotationService};
use crate::rotation::engine::ScheduleOutcome;
use crate::rotation::events::EventStatus;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::{BatchSize, RotationEngine, RotationError};

/// Events listed when the request names no limit, and the most it may name.
const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 1000;

#[derive(Debug, Clone)]
pub(crate) struct RotationServiceImpl {
    engine: Arc<RotationEngine>,
    scheduler: Arc<Scheduler>,
    auth: Arc<Authenticator>,
}

impl RotationServiceImpl {
    pub(crate) fn new(
        engine: Arc<RotationEngine>,
        scheduler: Arc<Scheduler>,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            engine,
            scheduler,
            auth,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RotationService for RotationServiceImpl {
    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name))]
    async fn get_impact(
        &self,
        request: Request<proto::GetImpactRequest>,
    ) -> RpcResult<proto::GetImpactResponse> {
        guard::admin(&self.auth, &request, "GetImpact").await?;
        let key = &request.get_ref().key_name;
        let impact = self.engine.impact(key).await?;
        Ok(Response::new(convert::impact(key, &impact)))
    }

    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name, force = request.get_ref().force))]
    async fn schedule_rotation(
        &self,
        request: Request<proto::ScheduleRotationRequest>,
    ) -> RpcResult<proto::ScheduleRotationResponse> {
        let principal = guard::admin(&self.auth, &request, "ScheduleRotation").await?;
        let req = request.get_ref();
        let outcome = self
            .engine
            .schedule_rotation(&req.key_name, req.force, &principal.id)
            .await?;
        Ok(Response::new(match outcome {
            ScheduleOutcome::Rotated(event) => proto::ScheduleRotationResponse {
                rotated: true,
                event: Some(convert::event(&event)),
                reason: String::new(),
            },
            ScheduleOutcome::NotDue(reason) => proto::ScheduleRotationResponse {
                rotated: false,
                event: None,
                reason,
            },
        }))
    }

    async fn get_schedule(
        &self,
        request: Request<proto::GetScheduleRequest>,
    ) -> RpcResult<proto::GetScheduleResponse> {
        guard::admin(&self.auth, &request, "GetSchedule").await?;
        let manager = self.engine.manager();
        let snapshots = manager.snapshots(None).await.map_err(RotationError::from)?;
        let now = manager.now();
        let next_run = self.scheduler.next_run(now);
        Ok(Response::new(proto::GetScheduleResponse {
            keys: snapshots
                .iter()
                .map(|s| convert::key_schedule(s, now))
                .collect(),
            scheduler_enabled: next_run.is_some(),
            cron: self.engine.settings().schedule_cron.clone(),
            next_run: next_run.map(convert::timestamp),
        }))
    }

    async fn get_event(
        &self,
        request: Request<proto::GetEventRequest>,
    ) -> RpcResult<proto::RotationEvent> {
        guard::admin(&self.auth, &request, "GetEvent").await?;
        let event = self.engine.get_event(&request.get_ref().event_id).await?;
        Ok(Response::new(convert::event(&event)))
    }

    async fn list_events(
        &self,
        request: Request<proto::ListEventsRequest>,
    ) -> RpcResult<proto::ListEventsResponse> {
        guard::admin(&self.auth, &request, "ListEvents").await?;
        let req = request.get_ref();
        let status = match req.status.as_str() {
            "" => None,
            s => Some(EventStatus::parse(s).ok_or_else(|| {
                RotationError::InvalidArgument(format!(
                    "unknown status {s:?}; use one of pending, in_progress, completed, failed, rolled_back"
                ))
            })?),
        };
        let key = (!req.key_name.is_empty()).then_some(req.key_name.as_str());
        if let Some(key) = key {
            crate::crypto::validate_key_name(key).map_err(|_| {
                RotationError::from(crate::keystore::KeyError::invalid_key_name(key))
            })?;
        }
        let limit = match req.limit {
            0 => DEFAULT_LIST_LIMIT,
            n => n.min(MAX_LIST_LIMIT),
        };
        let events = self.engine.list_events(key, status, limit).await?;
        Ok(Response::new(proto::ListEventsResponse {
            events: events.iter().map(convert::event).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn execute_event(
        &self,
        request: Request<proto::ExecuteEventRequest>,
    ) -> RpcResult<proto::RotationEvent> {
        let principal = guard::admin(&self.auth, &request, "ExecuteEvent").await?;
        let req = request.get_ref();
        // 0, the proto default, keeps the event's own batch size.
        let batch_size = (req.batch_size > 0)
            .then(|| BatchSize::new(req.batch_size))
            .transpose()
            .map_err(|e| RotationError::InvalidArgument(e.to_string()))?;
        let event = self
            .engine
            .execute(&req.event_id, batch_size, &principal.id)
            .await?;
        Ok(Response::new(convert::event(&event)))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn retry_event(
        &self,
        request: Request<proto::RetryEventRequest>,
    ) -> RpcResult<proto::RotationEvent> {
        let principal = guard::admin(&self.auth, &request, "RetryEvent").await?;
        let event = self
            .engine
            .retry(&request.get_ref().event_id, &principal.id)
            .await?;
        Ok(Response::new(convert::event(&event)))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn rollback_event(
        &self,
        request: Request<proto::RollbackEventRequest>,
    ) -> RpcResult<proto::RotationEvent> {
        let principal = guard::admin(&self.auth, &request, "RollbackEvent").await?;
        let event = self
            .engine
            .rollback_event(&request.get_ref().event_id, &principal.id)
            .await?;
        Ok(Response::new(convert::event(&event)))
    }
}
