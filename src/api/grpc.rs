//! `rekey.v1.KeyService` over tonic: a thin adapter from protobuf to `KeyManager` (data plane)
//! and to the admin core (Rotate, Rollback, GetStatus). Every rpc
//! authenticates first; data-plane rpcs check the token's key and operation scope, key
//! lifecycle rpcs need an admin token.

use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};

use crate::admin::Admin;
use crate::api::batch::{BatchLimits, Tally};
use crate::api::stream_rpcs::{Answers, StreamRpcs};
use crate::api::{convert, guard};
use crate::auth::{Authenticator, Operation, Principal};
use crate::keystore::manager::vault_values::TransitValue;
use crate::keystore::{KeyError, KeyManager};
use crate::proto::{self, key_service_server::KeyService};
use crate::rotation::RotationEngine;
use crate::telemetry::metrics::Metrics;

#[derive(Debug, Clone)]
pub(crate) struct KeyServiceImpl {
    manager: Arc<KeyManager>,
    engine: Arc<RotationEngine>,
    admin: Arc<Admin>,
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    limits: BatchLimits,
    streams: StreamRpcs,
}

impl KeyServiceImpl {
    pub(crate) fn new(
        engine: Arc<RotationEngine>,
        admin: Arc<Admin>,
        auth: Arc<Authenticator>,
        metrics: Arc<Metrics>,
        limits: BatchLimits,
    ) -> Self {
        Self {
            streams: StreamRpcs {
                manager: Arc::clone(engine.manager()),
                engine: Arc::clone(&engine),
                auth: Arc::clone(&auth),
            },
            manager: Arc::clone(engine.manager()),
            engine,
            admin,
            auth,
            metrics,
            limits,
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

    /// One Encrypt for an authenticated caller: scope, then the keystore; the single rpc and
    /// each EncryptBatch item alike.
    async fn encrypt_item(
        &self,
        principal: &Principal,
        req: &proto::EncryptRequest,
    ) -> Result<proto::EncryptResponse, Status> {
        guard::scope(&self.auth, principal, Operation::Encrypt, &req.key_name).await?;
        let (ciphertext, key_version) = self
            .manager
            .encrypt(&req.key_name, &req.plaintext, &req.associated_data)
            .await?;
        self.served(principal, &req.key_name, Operation::Encrypt)
            .await;
        Ok(proto::EncryptResponse {
            ciphertext,
            key_version,
        })
    }

    /// One Decrypt for an authenticated caller (the single rpc and each DecryptBatch item).
    /// A value that is not a Rekey envelope names no key to check the scope of: the keystore
    /// answers it with INVALID_ARGUMENT, revealing nothing about any key.
    async fn decrypt_item(
        &self,
        principal: &Principal,
        req: &proto::DecryptRequest,
    ) -> Result<proto::DecryptResponse, Status> {
        let named = (!req.key_name.is_empty()).then_some(req.key_name.as_str());
        let mut decrypted = if crate::crypto::is_vault_form(&req.ciphertext) {
            // Vault's text form: a value Vault sealed names no key, so the caller does.
            let key = match named {
                Some(key) => key.to_owned(),
                None => TransitValue::key_named(&req.ciphertext)?,
            };
            guard::scope(&self.auth, principal, Operation::Decrypt, &key).await?;
            self.manager
                .decrypt_transit(&key, &req.ciphertext, &req.associated_data)
                .await?
        } else {
            let key = guard::key_of(&req.ciphertext);
            if let (Some(named), Some(key)) = (named, key) {
                if named != key {
                    return Err(KeyError::TransitKeyMismatch {
                        named: named.to_owned(),
                        found: key.to_owned(),
                    }
                    .into());
                }
            }
            if let Some(key) = key {
                guard::scope(&self.auth, principal, Operation::Decrypt, key).await?;
            }
            self.manager
                .decrypt(&req.ciphertext, &req.associated_data)
                .await?
        };
        self.served(principal, &decrypted.key_name, Operation::Decrypt)
            .await;
        Ok(proto::DecryptResponse {
            // Moved, not copied: the response's buffer is the one plaintext copy either way
            // (tonic encodes and frees it), so a copy would only add an allocation, a memcpy
            // and a wipe of the original per call.
            plaintext: std::mem::take(&mut *decrypted.plaintext),
            key_name: decrypted.key_name,
            key_version: decrypted.key_version,
        })
    }

    /// One Rewrap for an authenticated caller (the single rpc and each RewrapBatch item).
    async fn rewrap_item(
        &self,
        principal: &Principal,
        req: &proto::RewrapRequest,
    ) -> Result<proto::RewrapResponse, Status> {
        let key = guard::key_of(&req.ciphertext);
        if let Some(key) = key {
            guard::scope(&self.auth, principal, Operation::Rewrap, key).await?;
        }
        let (ciphertext, key_version) = self
            .manager
            .rewrap(&req.ciphertext, &req.associated_data)
            .await?;
        self.served(principal, key.unwrap_or_default(), Operation::Rewrap)
            .await;
        Ok(proto::RewrapResponse {
            ciphertext,
            key_version,
        })
    }

    /// A batch rpc's items, each through `item` (the single rpc's per-item function), in
    /// order: the whole call refused first if it is empty or over the limits, then one
    /// result per item, counted in `rekey_batch_items_total`.
    async fn run_batch<'a, I, O, Fut>(
        &self,
        rpc: &'static str,
        items: &'a [I],
        bytes: impl Fn(&I) -> usize,
        item: impl Fn(&'a I) -> Fut,
    ) -> Result<Vec<Result<O, proto::ItemError>>, Status>
    where
        Fut: std::future::Future<Output = Result<O, Status>>,
    {
        self.limits
            .check(rpc, items.len(), items.iter().map(bytes).sum())?;
        let mut tally = Tally::default();
        let mut results = Vec::with_capacity(items.len());
        for i in items {
            results.push(tally.record(item(i).await));
        }
        self.metrics.batch_items(rpc, tally.ok, tally.failed);
        Ok(results)
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
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Encrypt.as_str()).await?;
        let req = request.get_ref();
        let response = self.encrypt_item(&principal, req).await?;
        traced(&req.key_name, response.key_version);
        Ok(Response::new(response))
    }

    async fn decrypt(
        &self,
        request: Request<proto::DecryptRequest>,
    ) -> RpcResult<proto::DecryptResponse> {
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Decrypt.as_str()).await?;
        let response = self.decrypt_item(&principal, request.get_ref()).await?;
        traced(&response.key_name, response.key_version);
        Ok(Response::new(response))
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
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Rewrap.as_str()).await?;
        let req = request.get_ref();
        let response = self.rewrap_item(&principal, req).await?;
        traced(
            guard::key_of(&req.ciphertext).unwrap_or_default(),
            response.key_version,
        );
        Ok(Response::new(response))
    }

    async fn encrypt_batch(
        &self,
        request: Request<proto::EncryptBatchRequest>,
    ) -> RpcResult<proto::EncryptBatchResponse> {
        use proto::encrypt_batch_result::Result as Item;
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Encrypt.as_str()).await?;
        let results = self
            .run_batch(
                "EncryptBatch",
                &request.get_ref().items,
                |i| i.plaintext.len() + i.associated_data.len(),
                |i| self.encrypt_item(&principal, i),
            )
            .await?
            .into_iter()
            .map(|r| proto::EncryptBatchResult {
                result: Some(r.map_or_else(Item::Error, Item::Response)),
            })
            .collect();
        Ok(Response::new(proto::EncryptBatchResponse { results }))
    }

    async fn decrypt_batch(
        &self,
        request: Request<proto::DecryptBatchRequest>,
    ) -> RpcResult<proto::DecryptBatchResponse> {
        use proto::decrypt_batch_result::Result as Item;
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Decrypt.as_str()).await?;
        let results = self
            .run_batch(
                "DecryptBatch",
                &request.get_ref().items,
                |i| i.ciphertext.len() + i.associated_data.len(),
                |i| self.decrypt_item(&principal, i),
            )
            .await?
            .into_iter()
            .map(|r| proto::DecryptBatchResult {
                result: Some(r.map_or_else(Item::Error, Item::Response)),
            })
            .collect();
        Ok(Response::new(proto::DecryptBatchResponse { results }))
    }

    async fn rewrap_batch(
        &self,
        request: Request<proto::RewrapBatchRequest>,
    ) -> RpcResult<proto::RewrapBatchResponse> {
        use proto::rewrap_batch_result::Result as Item;
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Rewrap.as_str()).await?;
        let results = self
            .run_batch(
                "RewrapBatch",
                &request.get_ref().items,
                |i| i.ciphertext.len() + i.associated_data.len(),
                |i| self.rewrap_item(&principal, i),
            )
            .await?
            .into_iter()
            .map(|r| proto::RewrapBatchResult {
                result: Some(r.map_or_else(Item::Error, Item::Response)),
            })
            .collect();
        Ok(Response::new(proto::RewrapBatchResponse { results }))
    }

    type EncryptStreamStream = Answers<proto::EncryptStreamResponse>;

    async fn encrypt_stream(
        &self,
        request: Request<Streaming<proto::EncryptStreamRequest>>,
    ) -> RpcResult<Self::EncryptStreamStream> {
        self.streams.encrypt(request).await
    }

    type DecryptStreamStream = Answers<proto::DecryptStreamResponse>;

    async fn decrypt_stream(
        &self,
        request: Request<Streaming<proto::DecryptStreamRequest>>,
    ) -> RpcResult<Self::DecryptStreamStream> {
        self.streams.decrypt(request).await
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
