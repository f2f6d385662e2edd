//! API tokens as stored: id, role, scope and the SHA-256 hash of the secret (never the
//! secret). The SQL lives in `crate::sql` (`sql/tokens.rs`).

use std::fmt;

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::storage_error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    /// "admin" or "client".
    pub(crate) role: String,
    /// Key names a client token may use; empty means every key.
    pub(crate) key_names: Vec<String>,
    /// Data-plane operations a client token may perform; empty means all.
    pub(crate) operations: Vec<String>,
    /// Lowercase hex SHA-256 of the whole token string.
    pub(crate) secret_hash: String,
    pub(crate) created_at: Millis,
    pub(crate) created_by: String,
    pub(crate) expires_at: Option<Millis>,
    pub(crate) revoked_at: Option<Millis>,
}

#[async_trait]
pub(crate) trait TokenStore: Send + Sync + fmt::Debug {
    /// Inserts the token with `audit` (recorded at its `created_at`) in one transaction: if
    /// the audit row cannot be written (`AuditWrite`), there is no token either.
    async fn insert_token(&self, token: &TokenRecord, audit: &AuditEntry) -> StoreResult<()>;

    /// Every token, revoked ones included, oldest first.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;

    /// Marks the token revoked, with `audit` in the same transaction; false (and no audit row)
    /// if it does not exist or was revoked already.
    async fn revoke_token(&self, id: &str, now: Millis, audit: &AuditEntry) -> StoreResult<bool>;

    /// Claims the one-time bootstrap of the first admin token: true for exactly one caller
    /// over the life of the keystore, even with several replicas starting at once.
    async fn claim_admin_bootstrap(&self) -> StoreResult<bool>;
}
