//! The token lifecycle: creating (and, on a keystore's first start, bootstrapping the admin
//! token), listing and revoking. Each change is stored with its audit row in one transaction,
//! and refreshes this replica's cache; a refusal is audited apart.

use std::path::{Path, PathBuf};

use tracing::warn;

use super::{AuthError, Authenticator, CreatedToken, BOOTSTRAP_TOKEN_FILE};
use crate::audit::{AuditEntry, AuditOperation, Outcome};
use crate::auth::principal::{Operation, Role};
use crate::auth::store::TokenRecord;
use crate::auth::token;
use crate::clock::Millis;

impl Authenticator {
    /// Creates a token. `key_names` and `operations` scope client tokens (empty: all). The
    /// token and its audit row are stored together; a refusal or failure is audited too.
    pub(crate) async fn create_token(
        &self,
        name: &str,
        role: Role,
        key_names: Vec<String>,
        operations: Vec<String>,
        expires_at: Option<Millis>,
        created_by: &str,
    ) -> Result<CreatedToken, AuthError> {
        let created = self
            .create_token_audited(name, role, key_names, operations, expires_at, created_by)
            .await;
        if let Err(e) = &created {
            self.audit_failure(created_by, AuditOperation::CreateToken, e)
                .await;
        }
        created
    }

    /// Records a token operation that changed nothing (best effort: there is no change to
    /// undo if the audit trail cannot record it either).
    async fn audit_failure(&self, who: &str, operation: AuditOperation, error: &AuthError) {
        self.audit
            .record(AuditEntry::new(who, operation, Outcome::Failed).detail(error.to_string()))
            .await;
    }

    async fn create_token_audited(
        &self,
        name: &str,
        role: Role,
        key_names: Vec<String>,
        operations: Vec<String>,
        expires_at: Option<Millis>,
        created_by: &str,
    ) -> Result<CreatedToken, AuthError> {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(AuthError::InvalidRequest(
                "name must be 1-200 characters".into(),
            ));
        }
        for key in &key_names {
            crate::crypto::validate_key_name(key).map_err(|_| {
                // The rule's own text begins "invalid key name"; quote the name once, shortened.
                let rejected = crate::keystore::error::KeyError::invalid_key_name(key);
                AuthError::InvalidRequest(format!("key_names: {rejected}"))
            })?;
        }
        for op in &operations {
            if Operation::parse(op).is_none() {
                return Err(AuthError::InvalidRequest(format!(
                    "unknown operation {op:?}; use encrypt, decrypt, generate_data_key, rewrap, sign or verify"
                )));
            }
        }
        if role == Role::Admin && !(key_names.is_empty() && operations.is_empty()) {
            return Err(AuthError::InvalidRequest(
                "admin tokens cannot be scoped; create a client token instead".into(),
            ));
        }
        let now = self.clock.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::InvalidRequest(
                "expires_at is in the past".into(),
            ));
        }
        let new = token::generate();
        let record = TokenRecord {
            id: new.id.clone(),
            name: name.trim().to_owned(),
            role: role.as_str().to_owned(),
            key_names,
            operations,
            secret_hash: token::hash(&new.secret),
            created_at: now,
            created_by: created_by.to_owned(),
            expires_at,
            revoked_at: None,
        };
        let audit = AuditEntry::new(created_by, AuditOperation::CreateToken, Outcome::Success)
            .detail(format!("created {} token {}", record.role, record.id));
        self.store.insert_token(&record, &audit).await?;
        self.cache(record.clone())?;
        Ok(CreatedToken {
            secret: new.secret,
            record,
        })
    }

    pub(crate) async fn list_tokens(&self) -> Result<Vec<TokenRecord>, AuthError> {
        Ok(self.store.list_tokens().await?)
    }

    /// Revokes a token; effective at once on this replica and within the refresh interval on
    /// the others.
    /// The revocation and its audit row are stored together; a failure is audited too.
    pub(crate) async fn revoke_token(&self, id: &str, by: &str) -> Result<TokenRecord, AuthError> {
        let revoked = self.revoke_token_audited(id, by).await;
        if let Err(e) = &revoked {
            self.audit_failure(by, AuditOperation::RevokeToken, e).await;
        }
        revoked
    }

    async fn revoke_token_audited(&self, id: &str, by: &str) -> Result<TokenRecord, AuthError> {
        let audit = AuditEntry::new(by, AuditOperation::RevokeToken, Outcome::Success)
            .detail(format!("revoked token {id}"));
        self.store
            .revoke_token(id, self.clock.now(), &audit)
            .await?;
        let record = self
            .store
            .get_token(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(id.to_owned()))?;
        self.cache(record.clone())?;
        Ok(record)
    }

    /// On the first start of a keystore (and only then, across all replicas), creates an admin
    /// token, writes it to `<data_dir>/admin.token` (mode 0600) and returns its path.
    pub(crate) async fn bootstrap(&self, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
        if self.env_admin_hash.is_some() || !self.store.claim_admin_bootstrap().await? {
            return Ok(None);
        }
        let created = self
            .create_token(
                "bootstrap admin",
                Role::Admin,
                Vec::new(),
                Vec::new(),
                None,
                "bootstrap",
            )
            .await?;
        crate::keystore::root::local::create_private_dir(data_dir)?;
        let path = data_dir.join(BOOTSTRAP_TOKEN_FILE);
        crate::keystore::root::local::write_private_file(&path, created.secret.as_bytes())?;
        warn!(path = %path.display(), token_id = %created.record.id, "created the first admin token; it is printed once on standard output and kept in the file named here");
        Ok(Some(path))
    }
}
