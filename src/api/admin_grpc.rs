//! `rekey.v1.AdminService` over tonic: API tokens, the audit trail and reports. Authorizes,
//! maps the request into the admin core and its answer back into protobuf.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::admin::reports::ReportKind;
use crate::admin::{Admin, AdminError};
use crate::api::convert::{self, millis};
use crate::api::guard;
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
        let new = crate::admin::NewToken {
            name: req.name,
            role: req.role,
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
    ) -> RpcResult<proto::TokenInfo> {
        let principal = guard::admin(&self.auth, &request, "RevokeToken").await?;
        let token = self
            .admin
            .revoke_token(&request.get_ref().token_id, &principal.id)
            .await?;
        Ok(Response::new(convert::token_info(&token)))
    }

    async fn list_audit(
        &self,
        request: Request<proto::ListAuditRequest>,
    ) -> RpcResult<proto::ListAuditResponse> {
        guard::admin(&self.auth, &request, "ListAudit").await?;
        let req = request.get_ref();
        let filter = AuditFilter {
            from: req.from.as_ref().map(millis),
            to: req.to.as_ref().map(millis),
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

    /// The report as a `google.protobuf.Struct` made from the same JSON the HTTP API serves.
    async fn get_report(
        &self,
        request: Request<proto::GetReportRequest>,
    ) -> RpcResult<proto::GetReportResponse> {
        guard::admin(&self.auth, &request, "GetReport").await?;
        let req = request.get_ref();
        let kind = ReportKind::from_request(Some(&req.kind)).map_err(AdminError::from)?;
        let report = self
            .admin
            .report(
                kind,
                req.from.as_ref().map(millis),
                req.to.as_ref().map(millis),
            )
            .await?;
        let json = serde_json::to_value(&report)
            .map_err(|e| Status::internal(format!("cannot encode the report: {e}")))?;
        Ok(Response::new(proto::GetReportResponse {
            report: match convert::json_to_prost(json) {
                prost_types::value::Kind::StructValue(s) => Some(s),
                _ => None,
            },
        }))
    }
}
