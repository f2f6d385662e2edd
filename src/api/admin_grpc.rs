//! `rekey.v1.AdminService` over tonic: API tokens, the audit trail and reports. Authorizes,
//! maps the request into the admin core and its answer back into protobuf.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::admin::reports::ReportKind;
use crate::admin::{Admin, AdminError};
use crate::api::convert::{self, millis};
use crate::api::{guard, report_proto};
use crate::audit::AuditFilter;
use crate::auth::Authenticator;
use crate::proto::{self, admin_service_server::AdminService};

#[derive(Debug, Clone)]
pub(crate) struct AdminServiceImpl {
    admin: Arc<Admin>,
    auth: Arc<Authenticator>,
}

impl AdminServiceImpl {
    pub(crate) fn new(admin: Arc<Admin>, auth: Arc<Authenticator>) -> Self {
        Self { admin, auth }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

#[tonic::async_trait]
impl AdminService for AdminServiceImpl {
    async fn create_token(
        &self,
        request: Request<proto::CreateTokenRequest>,
    ) -> RpcResult<proto::CreateTokenResponse> {
        let principal = guard::admin(&self.auth, &request, "CreateToken").await?;
        let req = request.into_inner();
        let role = convert::enum_word("role", req.role, "TOKEN_ROLE_", |v| {
            proto::TokenRole::try_from(v).ok().map(|r| r.as_str_name())
        })?
        .ok_or_else(|| {
            Status::invalid_argument("role is required: TOKEN_ROLE_ADMIN or TOKEN_ROLE_CLIENT")
        })?;
        let new = crate::admin::NewToken {
            name: req.name,
            role,
            key_names: req.key_names,
            operations: req.operations,
            expires_at: req.expires_at.as_ref().map(millis),
        };
        let created = self.admin.create_token(new, &principal.id).await?;
        Ok(Response::new(proto::CreateTokenResponse {
            token: created.token.clone(),
            info: Some(convert::token_info(&created.info)),
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<proto::ListTokensRequest>,
    ) -> RpcResult<proto::ListTokensResponse> {
        guard::admin(&self.auth, &request, "ListTokens").await?;
        let tokens = self.admin.tokens().await?;
        Ok(Response::new(proto::ListTokensResponse {
            tokens: tokens.iter().map(convert::token_info).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<proto::RevokeTokenRequest>,
    ) -> RpcResult<proto::RevokeTokenResponse> {
        let principal = guard::admin(&self.auth, &request, "RevokeToken").await?;
        let token = self
            .admin
            .revoke_token(&request.get_ref().token_id, &principal.id)
            .await?;
        Ok(Response::new(proto::RevokeTokenResponse {
            token: Some(convert::token_info(&token)),
        }))
    }

    async fn list_audit(
        &self,
        request: Request<proto::ListAuditRequest>,
    ) -> RpcResult<proto::ListAuditResponse> {
        guard::admin(&self.auth, &request, "ListAudit").await?;
        let req = request.get_ref();
        let filter = AuditFilter {
            from: req.start_time.as_ref().map(millis),
            to: req.end_time.as_ref().map(millis),
            key_name: non_empty(&req.key_name),
            principal: non_empty(&req.principal),
            operation: non_empty(&req.operation),
            limit: req.limit,
            after_seq: (req.after_seq > 0).then_some(req.after_seq),
        };
        let records = self.admin.audit_records(&filter).await?;
        Ok(Response::new(proto::ListAuditResponse {
            records: records.iter().map(convert::audit_record).collect(),
        }))
    }

    async fn verify_audit(
        &self,
        request: Request<proto::VerifyAuditRequest>,
    ) -> RpcResult<proto::VerifyAuditResponse> {
        let principal = guard::admin(&self.auth, &request, "VerifyAudit").await?;
        let report = self.admin.verify_audit(&principal.id).await?;
        Ok(Response::new(proto::VerifyAuditResponse {
            rows: report.rows,
            intact: report.intact,
            first_fault: report.first_fault.unwrap_or_default(),
            fault_seq: report.fault_seq.unwrap_or(0),
            head_hash: report.head_hash,
        }))
    }

    /// The report as typed messages, built from the same report the HTTP API serves as JSON.
    async fn get_report(
        &self,
        request: Request<proto::GetReportRequest>,
    ) -> RpcResult<proto::GetReportResponse> {
        guard::admin(&self.auth, &request, "GetReport").await?;
        let req = request.get_ref();
        let kind = convert::enum_word("kind", req.kind, "REPORT_KIND_", |v| {
            proto::ReportKind::try_from(v).ok().map(|k| k.as_str_name())
        })?;
        let kind = ReportKind::from_request(kind.as_deref()).map_err(AdminError::from)?;
        let report = self
            .admin
            .report(
                kind,
                req.start_time.as_ref().map(millis),
                req.end_time.as_ref().map(millis),
            )
            .await?;
        Ok(Response::new(report_proto::report(&report)))
    }
}
