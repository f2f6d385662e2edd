//! `rekey.v1.KeyService` over tonic: a thin adapter from protobuf to `KeyManager` (data plane)
//! and to the admin core (Rotate, Rollback, GetStatus). Every rpc
//! authenticates first; data-plane rpcs check the token's key and operation scope, key
//! lifecycle rpcs need an admin token.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::admin::Admin;
use crate::api::{convert, guard};
use crate::auth::{Authenticator, Operation, Principal};
use crate::keystore::KeyManager;
use crate::proto::{self, key_service_server::KeyService};
use crate::rotation::RotationEngine;

#[derive(Debug, Clone)]
pub(crate) struct KeyServiceImpl {
    manager: Arc<KeyManager>,
    engine: Arc<RotationEngine>,
    admin: Arc<Admin>,
    auth: Arc<Authenticator>,
}

impl KeyServiceImpl {
    pub(crate) fn new(
        engine: Arc<RotationEngine>,
        admin: Arc<Admin>,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            manager: Arc::clone(engine.manager()),
            engine,
            admin,
            auth,
        }
    }

    /// Authenticates the caller and checks its scope for `operation` on `key`. `key` is None
    /// when the request carries a value that is not a Rekey envelope: the rpc then answers
    /// INVALID_ARGUMENT itself, revealing nothing about any key.
    async fn allow<T>(
        &self,
        request: &Request<T>,
        operation: Operation,
        key: Option<&str>,
    ) -> Result<Arc<Principal>, Status> {
        let principal = guard::authenticate(&self.auth, request, operation.as_str()).await?;
        if let Some(key) = key {
            guard::scope(&self.auth, &principal, operation, key).await?;
        }
        Ok(principal)
    }

    /// Counts a successful data-plane call for the audit trail.
    async fn served(&self, principal: &Principal, key: &str, operation: Operation) {
        self.engine
            .audit()
            .data_plane(&principal.id, key, operation.as_str())
            .await;
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

/// Names the key and version used in the rpc's span (never the data). The data-plane rpcs
/// have no span of their own: at tens of thousands of calls per second, one span per call
/// (the `rpc` span, enabled only by trace export) is what tracing may cost.
fn traced(key: &str, version: u32) {
    let span = tracing::Span::current();
    span.record("key", key);
    span.record("key_version", version);
}

#[tonic::async_trait]
impl KeyService for KeyServiceImpl {
    async fn encrypt(
        &self,
        request: Request<proto::EncryptRequest>,
    ) -> RpcResult<proto::EncryptResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::Encrypt, Some(&req.key_name))
            .await?;
        let (ciphertext, key_version) = self
            .manager
            .encrypt(&req.key_name, &req.plaintext, &req.associated_data)
            .await?;
        traced(&req.key_name, key_version);
        self.served(&principal, &req.key_name, Operation::Encrypt)
            .await;
        Ok(Response::new(proto::EncryptResponse {
            ciphertext,
            key_version,
        }))
    }

    async fn decrypt(
        &self,
        request: Request<proto::DecryptRequest>,
    ) -> RpcResult<proto::DecryptResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::Decrypt, guard::key_of(&req.ciphertext))
            .await?;
        let decrypted = self
            .manager
            .decrypt(&req.ciphertext, &req.associated_data)
            .await?;
        traced(&decrypted.key_name, decrypted.key_version);
        self.served(&principal, &decrypted.key_name, Operation::Decrypt)
            .await;
        Ok(Response::new(proto::DecryptResponse {
            plaintext: decrypted.plaintext.to_vec(),
            key_name: decrypted.key_name,
            key_version: decrypted.key_version,
        }))
    }

    async fn generate_data_key(
        &self,
        request: Request<proto::GenerateDataKeyRequest>,
    ) -> RpcResult<proto::GenerateDataKeyResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::GenerateDataKey, Some(&req.key_name))
            .await?;
        let data_key = self
            .manager
            .generate_data_key(&req.key_name, &req.associated_data)
            .await?;
        traced(&req.key_name, data_key.key_version);
        self.served(&principal, &req.key_name, Operation::GenerateDataKey)
            .await;
        Ok(Response::new(proto::GenerateDataKeyResponse {
            plaintext_key: data_key.plaintext_key.expose().to_vec(),
            wrapped_key: data_key.wrapped_key,
            key_version: data_key.key_version,
        }))
    }

    async fn rewrap(
        &self,
        request: Request<proto::RewrapRequest>,
    ) -> RpcResult<proto::RewrapResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::Rewrap, guard::key_of(&req.ciphertext))
            .await?;
        let (ciphertext, key_version) = self
            .manager
            .rewrap(&req.ciphertext, &req.associated_data)
            .await?;
        traced(
            guard::key_of(&req.ciphertext).unwrap_or_default(),
            key_version,
        );
        self.served(
            &principal,
            guard::key_of(&req.ciphertext).unwrap_or_default(),
            Operation::Rewrap,
        )
        .await;
        Ok(Response::new(proto::RewrapResponse {
            ciphertext,
            key_version,
        }))
    }

    async fn sign(&self, request: Request<proto::SignRequest>) -> RpcResult<proto::SignResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::Sign, Some(&req.key_name))
            .await?;
        let (signature, key_version) = self.manager.sign(&req.key_name, &req.message).await?;
        traced(&req.key_name, key_version);
        self.served(&principal, &req.key_name, Operation::Sign)
            .await;
        Ok(Response::new(proto::SignResponse {
            signature,
            key_version,
        }))
    }

    async fn verify(
        &self,
        request: Request<proto::VerifyRequest>,
    ) -> RpcResult<proto::VerifyResponse> {
        let req = request.get_ref();
        let principal = self
            .allow(&request, Operation::Verify, guard::key_of(&req.signature))
            .await?;
        let verified = self.manager.verify(&req.message, &req.signature).await?;
        traced(&verified.key_name, verified.key_version);
        self.served(&principal, &verified.key_name, Operation::Verify)
            .await;
        Ok(Response::new(proto::VerifyResponse {
            valid: verified.valid,
            key_name: verified.key_name,
            key_version: verified.key_version,
        }))
    }

    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name, force = request.get_ref().force))]
    async fn rotate(
        &self,
        request: Request<proto::RotateRequest>,
    ) -> RpcResult<proto::RotateResponse> {
        let principal = guard::admin(&self.auth, &request, "Rotate").await?;
        let req = request.get_ref();
        let rotated = self
            .admin
            .rotate(&req.key_name, req.force, &principal.id)
            .await?;
        Ok(Response::new(proto::RotateResponse {
            key_name: rotated.key_type,
            new_version: rotated.new_version,
            previous_version: rotated.previous_version,
            event_id: rotated.event_id,
        }))
    }

    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name))]
    async fn rollback(
        &self,
        request: Request<proto::RollbackRequest>,
    ) -> RpcResult<proto::RollbackResponse> {
        let principal = guard::admin(&self.auth, &request, "Rollback").await?;
        let rolled = self
            .admin
            .rollback_key(&request.get_ref().key_name, &principal.id)
            .await?;
        Ok(Response::new(proto::RollbackResponse {
            key_name: rolled.key_type,
            primary_version: rolled.primary_version,
            rolled_back_version: rolled.rolled_back_version,
            event_id: rolled.event_id,
        }))
    }

    #[tracing::instrument(skip_all, fields(key = %request.get_ref().key_name))]
    async fn get_status(
        &self,
        request: Request<proto::GetStatusRequest>,
    ) -> RpcResult<proto::GetStatusResponse> {
        guard::admin(&self.auth, &request, "GetStatus").await?;
        let status = self.admin.status(Some(&request.get_ref().key_name)).await?;
        Ok(Response::new(convert::status(&status)))
    }
}
