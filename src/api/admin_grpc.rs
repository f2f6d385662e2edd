//! `rekey.v1.AdminService` over tonic: API tokens.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::{convert, guard};
use crate::audit::{AuditEntry, AuditFilter, AuditOperation, AuditRecord, Auditor, Outcome};
use crate::auth::store::TokenRecord;
use crate::auth::{Authenticator, Role};
use crate::proto::{self, admin_service_server::AdminService};
use crate::reports::{self, ReportKind};
use crate::rotation::RotationEngine;

#[derive(Debug, Clone)]
pub(crate) struct AdminServiceImpl {
    auth: Arc<Authenticator>,
    engine: Arc<RotationEngine>,
    audit: Arc<Auditor>,
}

impl AdminServiceImpl {
    pub(crate) fn new(auth: Arc<Authenticator>, engine: Arc<RotationEngine>) -> Self {
        Self {
            auth,
            audit: Arc::clone(engine.audit()),
            engine,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

pub(crate) fn token_info(t: &TokenRecord) -> proto::TokenInfo {
    proto::TokenInfo {
        token_id: t.id.clone(),
        name: t.name.clone(),
        role: t.role.clone(),
        key_names: t.key_names.clone(),
        operations: t.operations.clone(),
        created_at: Some(convert::timestamp(t.created_at)),
        created_by: t.created_by.clone(),
        expires_at: t.expires_at.map(convert::timestamp),
        revoked_at: t.revoked_at.map(convert::timestamp),
    }
}

#[tonic::async_trait]
impl AdminService for AdminServiceImpl {
    async fn create_token(
        &self,
        request: Request<proto::CreateTokenRequest>,
    ) -> RpcResult<proto::CreateTokenResponse> {
        let principal = guard::admin(&self.auth, &request, "CreateToken").await?;
        let req = request.get_ref();
        let role = Role::parse(&req.role).ok_or_else(|| {
            Status::invalid_argument(format!(
                "role {:?} is not \"admin\" or \"client\"",
                req.role
            ))
        })?;
        let expires_at = req
            .expires_at
            .as_ref()
            .map(|t| t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000));
        let created = self
            .auth
            .create_token(
                &req.name,
                role,
                req.key_names.clone(),
                req.operations.clone(),
                expires_at,
                &principal.id,
            )
            .await?;
        tracing::info!(token_id = %created.record.id, role = %created.record.role, by = %principal.id, "token created");
        Ok(Response::new(proto::CreateTokenResponse {
            token: created.secret.to_string(),
            info: Some(token_info(&created.record)),
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<proto::ListTokensRequest>,
    ) -> RpcResult<proto::ListTokensResponse> {
        guard::admin(&self.auth, &request, "ListTokens").await?;
        let tokens = self.auth.list_tokens().await?;
        Ok(Response::new(proto::ListTokensResponse {
            tokens: tokens.iter().map(token_info).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<proto::RevokeTokenRequest>,
    ) -> RpcResult<proto::TokenInfo> {
        let principal = guard::admin(&self.auth, &request, "RevokeToken").await?;
        let id = &request.get_ref().token_id;
        // Audited by the authenticator, in the revocation's transaction.
        let record = self.auth.revoke_token(id, &principal.id).await?;
        tracing::info!(token_id = %id, by = %principal.id, "token revoked");
        Ok(Response::new(token_info(&record)))
    }

    async fn list_audit(
        &self,
        request: Request<proto::ListAuditRequest>,
    ) -> RpcResult<proto::ListAuditResponse> {
        guard::admin(&self.auth, &request, "ListAudit").await?;
        let records = self.list_audit_records(request.get_ref()).await?;
        Ok(Response::new(proto::ListAuditResponse {
            records: records.iter().map(audit_record).collect(),
        }))
    }

    async fn verify_audit(
        &self,
        request: Request<proto::VerifyAuditRequest>,
    ) -> RpcResult<proto::VerifyAuditResponse> {
        let principal = guard::admin(&self.auth, &request, "VerifyAudit").await?;
        let report = self
            .audit
            .store()
            .verify()
            .await
            .map_err(|e| Status::from(crate::keystore::KeyError::from(e)))?;
        let outcome = if report.first_fault.is_some() {
            Outcome::Failed
        } else {
            Outcome::Success
        };
        let detail = match &report.first_fault {
            Some(fault) => fault.to_string(),
            None => format!("{} rows intact", report.rows),
        };
        self.audit
            .record(
                AuditEntry::new(&principal.id, AuditOperation::VerifyAudit, outcome).detail(detail),
            )
            .await;
        Ok(Response::new(proto::VerifyAuditResponse {
            rows: report.rows,
            intact: report.first_fault.is_none(),
            first_fault: report
                .first_fault
                .map(|f| f.to_string())
                .unwrap_or_default(),
            fault_seq: report.first_fault.map_or(0, |f| f.seq()),
            head_hash: report.head_hash,
        }))
    }

    async fn get_report(
        &self,
        request: Request<proto::GetReportRequest>,
    ) -> RpcResult<proto::GetReportResponse> {
        guard::admin(&self.auth, &request, "GetReport").await?;
        let req = request.get_ref();
        let kind = match req.kind.as_str() {
            "" => ReportKind::PostRotation,
            k => ReportKind::parse(k).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "unknown report kind {k:?}; use post_rotation, weekly, monthly or quarterly"
                ))
            })?,
        };
        let report = reports::build(&self.engine, kind, millis(&req.from), millis(&req.to)).await?;
        Ok(Response::new(proto::GetReportResponse {
            report: match convert::json_to_prost(report) {
                prost_types::value::Kind::StructValue(s) => Some(s),
                _ => None,
            },
        }))
    }
}

fn millis(t: &Option<prost_types::Timestamp>) -> Option<i64> {
    t.as_ref()
        .map(|t| t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) fn audit_record(r: &AuditRecord) -> proto::AuditRecord {
    proto::AuditRecord {
        seq: r.seq,
        at: Some(convert::timestamp(r.at)),
        principal: r.entry.principal.clone(),
        operation: r.entry.operation.clone(),
        key_name: r.entry.key_name.clone().unwrap_or_default(),
        key_version: r.entry.key_version.unwrap_or(0),
        outcome: r.entry.outcome.as_str().to_owned(),
        records: r.entry.records,
        detail: r.entry.detail.clone(),
        request_id: r.entry.request_id.clone().unwrap_or_default(),
        prev_hash: r.prev_hash.clone(),
        hash: r.hash.clone(),
    }
}

impl AdminServiceImpl {
    pub(crate) async fn list_audit_records(
        &self,
        req: &proto::ListAuditRequest,
    ) -> Result<Vec<AuditRecord>, Status> {
        let filter = AuditFilter {
            from: millis(&req.from),
            to: millis(&req.to),
            key_name: non_empty(&req.key_name),
            principal: non_empty(&req.principal),
            operation: non_empty(&req.operation),
            limit: req.limit,
            after_seq: (req.after_seq > 0).then_some(req.after_seq),
        };
        self.audit
            .store()
            .list(&filter)
            .await
            .map_err(|e| Status::from(crate::keystore::KeyError::from(e)))
    }
}
