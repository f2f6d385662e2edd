//! JSON bodies of the runbook's HTTP routes. The answers are the admin core's views (one shape
//! for HTTP and the CLI's `--json`); the request bodies are the HTTP API's own. Field names
//! follow the runbook (`key_type`, `event_id`); times are RFC 3339 UTC strings; durations are
//! whole seconds (`*_secs`).

use serde::Deserialize;
use utoipa::ToSchema;

#[allow(unused_imports)] // named by the OpenAPI schemas of the views above
pub(super) use crate::admin::views::{
    CountsJson, KeyScheduleJson, KeyStatusJson, TargetImpactJson, TargetProgressJson, VersionJson,
    VersionRecordsJson,
};
pub(super) use crate::admin::views::{
    EventJson, ImpactJson, ScheduleJson, ScheduledJson, StatusJson,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleRequest {
    /// The key to rotate.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$", example = "TOKEN_ENCRYPTION")]
    pub(crate) key_type: String,
    /// Rotate now even if the key is not due (emergency rotation).
    #[serde(default)]
    pub(crate) force: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExecuteRequest {
    /// The event to run, as returned by POST /schedule or GET /events.
    #[schema(min_length = 1, example = "evt-0123456789abcdef01234567")]
    pub(crate) event_id: String,
    /// Rows per batch from now on, 1 to 100000; 0, null or omitted keeps the event's batch
    /// size (as gRPC's ExecuteEvent, where proto3 cannot tell 0 from unset).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000, example = 500)]
    pub(crate) batch_size: Option<u32>,
}

/// The status of a rotation event (documentation of `EventJson::status`).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum EventStatusName {
    Pending,
    InProgress,
    Completed,
    Failed,
    RolledBack,
}

/// The `status` filter of GET /events: a status, or empty for every status.
pub(super) fn event_status_filter() -> utoipa::openapi::Object {
    string_enum(&[
        "pending",
        "in_progress",
        "completed",
        "failed",
        "rolled_back",
        "",
    ])
}

/// The `kind` of GET /report: empty means `post_rotation`.
pub(super) fn report_kind() -> utoipa::openapi::Object {
    string_enum(&[
        "post_rotation",
        "post-rotation",
        "weekly",
        "monthly",
        "quarterly",
        "",
    ])
}

fn string_enum(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}
