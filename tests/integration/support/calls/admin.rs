//! AdminService: API tokens and the audit trail.

use rekey::proto::{
    CreateTokenRequest, CreateTokenResponse, ListAuditRequest, ListAuditResponse,
    ListTokensRequest, ListTokensResponse, RevokeTokenRequest, TokenInfo, TokenRole,
};
use tonic::Status;

use super::{expect_ok, reply};
use crate::support::Clients;

/// A token named `name` with `role` ("admin", "client", or "" for none), unscoped and never
/// expiring; set other fields with `CreateTokenRequest { operations, ..token_request(name, role) }`.
pub fn token_request(name: &str, role: &str) -> CreateTokenRequest {
    let role = match role {
        "admin" => TokenRole::Admin,
        "client" => TokenRole::Client,
        "" => TokenRole::Unspecified,
        other => panic!("no token role {other:?}"),
    };
    CreateTokenRequest {
        name: name.into(),
        role: role as i32,
        key_names: Vec::new(),
        operations: Vec::new(),
        expires_at: None,
    }
}

impl Clients {
    pub async fn try_create_token(
        &mut self,
        request: CreateTokenRequest,
    ) -> Result<CreateTokenResponse, Status> {
        reply(self.admin.create_token(request).await)
    }

    pub async fn create_token(&mut self, request: CreateTokenRequest) -> CreateTokenResponse {
        expect_ok("CreateToken", self.try_create_token(request).await)
    }

    pub async fn list_tokens(&mut self) -> ListTokensResponse {
        let tokens = self.admin.list_tokens(ListTokensRequest {}).await;
        expect_ok("ListTokens", reply(tokens))
    }

    pub async fn try_revoke_token(&mut self, token_id: &str) -> Result<TokenInfo, Status> {
        let request = RevokeTokenRequest {
            token_id: token_id.into(),
        };
        reply(self.admin.revoke_token(request).await).map(|answer| {
            answer
                .token
                .expect("RevokeToken answered without the token")
        })
    }

    pub async fn revoke_token(&mut self, token_id: &str) -> TokenInfo {
        expect_ok("RevokeToken", self.try_revoke_token(token_id).await)
    }

    pub async fn list_audit(&mut self, request: ListAuditRequest) -> ListAuditResponse {
        expect_ok("ListAudit", reply(self.admin.list_audit(request).await))
    }
}
