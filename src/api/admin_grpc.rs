//! `rekey.v1.AdminService` over tonic: API tokens.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::{convert, guard};
use crate::auth::{Authenticator, Role};
use crate::keystore::tokens::TokenRecord;
use crate::proto::{self, admin_service_server::AdminService};

#[derive(Debug, Clone)]
pub struct AdminServiceImpl {
    auth: Arc<Authenticator>,
}

impl AdminServiceImpl {
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

pub fn token_info(t: &TokenRecord) -> proto::TokenInfo {
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
        let principal = guard::admin(&self.auth, &request).await?;
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
        guard::admin(&self.auth, &request).await?;
        let tokens = self.auth.list_tokens().await?;
        Ok(Response::new(proto::ListTokensResponse {
            tokens: tokens.iter().map(token_info).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<proto::RevokeTokenRequest>,
    ) -> RpcResult<proto::TokenInfo> {
        let principal = guard::admin(&self.auth, &request).await?;
        let id = &request.get_ref().token_id;
        let record = self.auth.revoke_token(id).await?;
        tracing::info!(token_id = %id, by = %principal.id, "token revoked");
        Ok(Response::new(token_info(&record)))
    }
}
