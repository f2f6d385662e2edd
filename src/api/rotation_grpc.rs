//! `rekey.v1.RotationService` over tonic: authorizes, maps the request into the admin core and
//! its answer back into protobuf.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::admin::query::EventQuery;
use crate::admin::Admin;
use crate::api::{convert, guard};
use crate::auth::Authenticator;
use crate::proto::{self, rotation_service_server::RotationService};

#[derive(Debug, Clone)]
pub(crate) struct RotationServiceImpl {
    admin: Arc<Admin>,
    auth: Arc<Authenticator>,
}

impl RotationServiceImpl {
    pub(crate) fn new(admin: Arc<Admin>, auth: Arc<Authenticator>) -> Self {
        Self { admin, auth }
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
        let impact = self.admin.impact(&request.get_ref().key_name).await?;
        Ok(Response::new(convert::impact(&impact)))
    }

    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name, force = request.get_ref().force))]
    async fn schedule_rotation(
        &self,
        request: Request<proto::ScheduleRotationRequest>,
    ) -> RpcResult<proto::ScheduleRotationResponse> {
        let principal = guard::admin(&self.auth, &request, "ScheduleRotation").await?;
        let req = request.get_ref();
        let outcome = self
            .admin
            .schedule_rotation(&req.key_name, req.force, &principal.id)
            .await?;
        Ok(Response::new(proto::ScheduleRotationResponse {
            rotated: outcome.rotated,
            event: outcome.event.as_ref().map(convert::event),
            reason: outcome.reason.unwrap_or_default(),
        }))
    }

    async fn get_schedule(
        &self,
        request: Request<proto::GetScheduleRequest>,
    ) -> RpcResult<proto::GetScheduleResponse> {
        guard::admin(&self.auth, &request, "GetSchedule").await?;
        let schedule = self.admin.schedule().await?;
        Ok(Response::new(proto::GetScheduleResponse {
            keys: schedule.keys.iter().map(convert::key_schedule).collect(),
            scheduler_enabled: schedule.scheduler_enabled,
            cron: schedule.cron,
            next_run: schedule.next_run.map(|t| convert::timestamp(t.0)),
        }))
    }

    async fn get_event(
        &self,
        request: Request<proto::GetEventRequest>,
    ) -> RpcResult<proto::GetEventResponse> {
        guard::admin(&self.auth, &request, "GetEvent").await?;
        let event = self.admin.event(&request.get_ref().event_id).await?;
        Ok(Response::new(proto::GetEventResponse {
            event: Some(convert::event(&event)),
        }))
    }

    async fn list_events(
        &self,
        request: Request<proto::ListEventsRequest>,
    ) -> RpcResult<proto::ListEventsResponse> {
        guard::admin(&self.auth, &request, "ListEvents").await?;
        let req = request.get_ref();
        let status = convert::enum_word("status", req.status, "ROTATION_EVENT_STATUS_", |v| {
            proto::RotationEventStatus::try_from(v)
                .ok()
                .map(|s| s.as_str_name())
        })?;
        let query = EventQuery::parse(Some(&req.key_name), status.as_deref(), Some(req.limit))?;
        let events = self.admin.events(&query).await?;
        Ok(Response::new(proto::ListEventsResponse {
            events: events.iter().map(convert::event).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn execute_event(
        &self,
        request: Request<proto::ExecuteEventRequest>,
    ) -> RpcResult<proto::ExecuteEventResponse> {
        let principal = guard::admin(&self.auth, &request, "ExecuteEvent").await?;
        let req = request.get_ref();
        let event = self
            .admin
            .execute(&req.event_id, Some(req.batch_size), &principal.id)
            .await?;
        Ok(Response::new(proto::ExecuteEventResponse {
            event: Some(convert::event(&event)),
        }))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn retry_event(
        &self,
        request: Request<proto::RetryEventRequest>,
    ) -> RpcResult<proto::RetryEventResponse> {
        let principal = guard::admin(&self.auth, &request, "RetryEvent").await?;
        let event = self
            .admin
            .retry(&request.get_ref().event_id, &principal.id)
            .await?;
        Ok(Response::new(proto::RetryEventResponse {
            event: Some(convert::event(&event)),
        }))
    }

    #[tracing::instrument(skip_all, fields(event_id = %request.get_ref().event_id))]
    async fn rollback_event(
        &self,
        request: Request<proto::RollbackEventRequest>,
    ) -> RpcResult<proto::RollbackEventResponse> {
        let principal = guard::admin(&self.auth, &request, "RollbackEvent").await?;
        let event = self
            .admin
            .rollback_event(&request.get_ref().event_id, &principal.id)
            .await?;
        Ok(Response::new(proto::RollbackEventResponse {
            event: Some(convert::event(&event)),
        }))
    }
}
