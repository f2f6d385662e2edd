//! JSON bodies of the runbook's HTTP routes. The answers are the admin core's views (one shape
//! for HTTP and the CLI's `--json`); the request bodies are the HTTP API's own. Field names
//! follow the runbook (`key_type`, `event_id`); times are RFC 3339 UTC strings; durations are
//! whole seconds (`*_secs`).

use serde::Deserialize;

pub(super) use crate::admin::reports::Report;
#[allow(unused_imports)] // named by the OpenAPI schemas of the views above
pub(super) use crate::admin::views::{
    CountsJson, KeyScheduleJson, KeyStatusJson, TargetImpactJson, TargetProgressJson, VersionJson,
    VersionRecordsJson,
};
pub(super) use crate::admin::views::{
    EventJson, ImpactJson, ScheduleJson, ScheduledJson, StatusJson,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleRequest {
    pub(crate) key_type: String,
    #[serde(default)]
    pub(crate) force: bool,
}

/// `batch_size` 0 or absent keeps the event's own batch size, as in gRPC's ExecuteEvent
/// (where proto3 cannot tell 0 from unset); 1 to 100000 replaces it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExecuteRequest {
    pub(crate) event_id: String,
    #[serde(default)]
    pub(crate) batch_size: Option<u32>,
}
