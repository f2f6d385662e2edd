//! The audit trail over HTTP (`/api/v1/audit`, `/api/v1/audit/verify`), as AdminService's
//! ListAudit and VerifyAudit, and `GET /api/v1/whoami`, which the web console asks first.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{HttpCredentials, Query};
use super::openapi::{ErrorBody, AUDIT};
use super::routes::{admin, HttpResult, HttpState};
use crate::admin::query::{given, rfc3339_time};
use crate::admin::views::{AuditRecordJson, AuditVerifyJson};
use crate::api::guard;
use crate::audit::AuditFilter;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    /// Only records about this key.
    key: Option<String>,
    /// Only records of this principal (a token id such as `adm_...`, or `scheduler`).
    principal: Option<String>,
    /// Only records of this operation, e.g. `Rotate (manual)`, `ImportKey`, `VerifyAudit`.
    operation: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Recorded before this time (RFC 3339, exclusive).
    #[param(format = DateTime)]
    to: Option<String>,
    /// At most this many records (default 100, at most 1000).
    limit: Option<u32>,
    /// Only records after this `seq`: the last `seq` of one page gives the next.
    after_seq: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = AUDIT,
    operation_id = "listAudit", summary = "List audit records",
    description = "Records of the hash-chained audit trail, oldest first, filtered by key, principal, operation and time; page with `after_seq`. Read-only and safe to retry.",
    params(AuditQuery),
    responses(
        (status = 200, description = "The records", body = Vec<AuditRecordJson>),
        (status = 400, description = "INVALID_ARGUMENT: a time is not RFC 3339", body = ErrorBody),
    ))]
pub(super) async fn audit(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
    Query(query): Query<AuditQuery>,
) -> HttpResult<Vec<AuditRecordJson>> {
    admin(&state, &credentials, "GET /api/v1/audit").await?;
    let owned = |v: &Option<String>| given(v.as_deref()).map(str::to_owned);
    let filter = AuditFilter {
        from: rfc3339_time("from", query.from.as_deref())?,
        to: rfc3339_time("to", query.to.as_deref())?,
        key_name: owned(&query.key),
        principal: owned(&query.principal),
        operation: owned(&query.operation),
        limit: query.limit.unwrap_or(0),
        after_seq: query.after_seq.filter(|s| *s > 0),
    };
    Ok(Json(state.admin.audit_records(&filter).await?))
}

#[utoipa::path(post, path = "/api/v1/audit/verify", tag = AUDIT,
    operation_id = "verifyAudit", summary = "Verify the audit chain",
    description = "Recomputes the hash chain over every record and says whether it is intact, or which record is the first broken one. The verification is itself recorded (VerifyAudit).",
    responses((status = 200, description = "What the verification found", body = AuditVerifyJson)))]
pub(super) async fn verify_audit(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
) -> HttpResult<AuditVerifyJson> {
    let principal = admin(&state, &credentials, "POST /api/v1/audit/verify").await?;
    Ok(Json(state.admin.verify_audit(&principal.id).await?))
}

/// Who a token is: what the web console asks before it shows anything.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WhoamiJson {
    /// The token's id (never its secret).
    id: String,
    /// `admin` or `client`.
    role: &'static str,
    /// A client token's keys; empty means every key.
    keys: Vec<String>,
    /// A client token's operations; empty means all.
    operations: Vec<&'static str>,
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = AUDIT,
    operation_id = "whoami", summary = "Who this token is",
    description = "The caller's token id, role and scope. Any valid token (admin or client) may ask.",
    responses((status = 200, description = "The caller", body = WhoamiJson)))]
pub(super) async fn whoami(
    State(state): State<HttpState>,
    credentials: HttpCredentials,
) -> HttpResult<WhoamiJson> {
    let principal =
        guard::caller(&state.auth, credentials.borrowed(), "GET /api/v1/whoami").await?;
    Ok(Json(WhoamiJson {
        id: principal.id.clone(),
        role: principal.role.as_str(),
        keys: principal.key_names.clone(),
        operations: principal.operations.iter().map(|o| o.as_str()).collect(),
    }))
}
