//! RotationService: rotation events and their migrations.

use std::time::Duration;

use rekey::proto::{
    ExecuteEventRequest, GetEventRequest, GetImpactRequest, GetImpactResponse, ListEventsRequest,
    ListEventsResponse, RetryEventRequest, RollbackEventRequest, RotationEvent,
    RotationEventStatus, ScheduleRotationRequest,
};
use tonic::Status;

use super::{expect_ok, reply};
use crate::support::Clients;

/// A status as the runbook words it ("completed", "in_progress") as the proto value; "" is
/// unspecified (every status, in a list request).
pub fn event_status(word: &str) -> RotationEventStatus {
    if word.is_empty() {
        return RotationEventStatus::Unspecified;
    }
    let name = format!("ROTATION_EVENT_STATUS_{}", word.to_ascii_uppercase());
    RotationEventStatus::from_str_name(&name).unwrap_or_else(|| panic!("no event status {word:?}"))
}

/// The event an ExecuteEvent/RetryEvent/RollbackEvent/GetEvent answer must carry.
fn the_event(rpc: &str, event: Option<RotationEvent>) -> RotationEvent {
    event.unwrap_or_else(|| panic!("{rpc} answered without its event"))
}

impl Clients {
    /// ScheduleRotation with `force`: asserts that it rotated, and returns the event that
    /// migrates `key`'s records.
    pub async fn force_rotation(&mut self, key: &str) -> RotationEvent {
        let request = ScheduleRotationRequest {
            key_name: key.into(),
            force: true,
        };
        let scheduled = expect_ok(
            "ScheduleRotation",
            reply(self.rotation.schedule_rotation(request).await),
        );
        assert!(scheduled.rotated, "{scheduled:?}");
        scheduled.event.expect("a rotation event")
    }

    pub async fn get_event(&mut self, event_id: &str) -> RotationEvent {
        let request = GetEventRequest {
            event_id: event_id.into(),
        };
        let answer = expect_ok("GetEvent", reply(self.rotation.get_event(request).await));
        the_event("GetEvent", answer.event)
    }

    /// Polls the event until it reaches `status` (bounded; generous for a shared machine).
    pub async fn wait_for_event(&mut self, event_id: &str, status: &str) -> RotationEvent {
        for _ in 0..6000 {
            let event = self.get_event(event_id).await;
            if event.status() == event_status(status) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("event {event_id} never reached {status}");
    }

    pub async fn get_impact(&mut self, key: &str) -> GetImpactResponse {
        let request = GetImpactRequest {
            key_name: key.into(),
        };
        expect_ok("GetImpact", reply(self.rotation.get_impact(request).await))
    }

    /// The events of `key` (every key when empty) in `status` (any when empty).
    pub async fn try_list_events(
        &mut self,
        key: &str,
        status: &str,
    ) -> Result<ListEventsResponse, Status> {
        let request = ListEventsRequest {
            key_name: key.into(),
            status: event_status(status) as i32,
            limit: 0,
        };
        reply(self.rotation.list_events(request).await)
    }

    pub async fn list_events(&mut self, key: &str, status: &str) -> ListEventsResponse {
        expect_ok("ListEvents", self.try_list_events(key, status).await)
    }

    pub async fn try_execute_event(
        &mut self,
        event_id: &str,
        batch_size: u32,
    ) -> Result<RotationEvent, Status> {
        let request = ExecuteEventRequest {
            event_id: event_id.into(),
            batch_size,
        };
        reply(self.rotation.execute_event(request).await)
            .map(|answer| the_event("ExecuteEvent", answer.event))
    }

    pub async fn try_retry_event(&mut self, event_id: &str) -> Result<RotationEvent, Status> {
        let request = RetryEventRequest {
            event_id: event_id.into(),
        };
        reply(self.rotation.retry_event(request).await)
            .map(|answer| the_event("RetryEvent", answer.event))
    }

    pub async fn retry_event(&mut self, event_id: &str) -> RotationEvent {
        expect_ok("RetryEvent", self.try_retry_event(event_id).await)
    }

    pub async fn try_rollback_event(&mut self, event_id: &str) -> Result<RotationEvent, Status> {
        let request = RollbackEventRequest {
            event_id: event_id.into(),
        };
        reply(self.rotation.rollback_event(request).await)
            .map(|answer| the_event("RollbackEvent", answer.event))
    }

    pub async fn rollback_event(&mut self, event_id: &str) -> RotationEvent {
        expect_ok("RollbackEvent", self.try_rollback_event(event_id).await)
    }
}
