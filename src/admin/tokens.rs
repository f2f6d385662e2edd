//! API tokens and the audit trail: create, list and revoke tokens; list and verify the log.

use super::error::InvalidInput;
use super::views::{AuditRecordJson, AuditVerifyJson, CreatedTokenJson, Time, TokenJson};
use super::{Admin, AdminResult};
use crate::audit::{AuditEntry, AuditFilter, AuditOperation, AuditRecord, Outcome};
use crate::auth::store::TokenRecord;
use crate::auth::Role;
use crate::clock::Millis;

/// What a new token may do and until when.
#[derive(Debug, Clone)]
pub(crate) struct NewToken {
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) key_names: Vec<String>,
    pub(crate) operations: Vec<String>,
    pub(crate) expires_at: Option<Millis>,
}

impl From<&TokenRecord> for TokenJson {
    fn from(t: &TokenRecord) -> Self {
        Self {
            token_id: t.id.clone(),
            name: t.name.clone(),
            role: t.role.clone(),
            key_names: t.key_names.clone(),
            operations: t.operations.clone(),
            created_at: Time(t.created_at),
            created_by: t.created_by.clone(),
            expires_at: t.expires_at.map(Time),
            revoked_at: t.revoked_at.map(Time),
        }
    }
}

impl From<&AuditRecord> for AuditRecordJson {
    fn from(r: &AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: Time(r.at),
            principal: r.entry.principal.clone(),
            operation: r.entry.operation.clone(),
            key_name: r.entry.key_name.clone(),
            key_version: r.entry.key_version,
            event_id: r.entry.event_id.clone(),
            outcome: r.entry.outcome.as_str().to_owned(),
            records: r.entry.records,
            detail: r.entry.detail.clone(),
            request_id: r.entry.request_id.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        }
    }
}

impl Admin {
    pub(crate) async fn create_token(
        &self,
        new: NewToken,
        actor: &str,
    ) -> AdminResult<CreatedTokenJson> {
        let role = Role::parse(&new.role).ok_or(InvalidInput::UnknownRole(new.role))?;
        // Audited by the authenticator, in the creation's transaction.
        let created = self
            .auth
            .create_token(
                &new.name,
                role,
                new.key_names,
                new.operations,
                new.expires_at,
                actor,
            )
            .await?;
        tracing::info!(token_id = %created.record.id, role = %created.record.role, by = %actor, "token created");
        Ok(CreatedTokenJson {
            token: created.secret.to_string(),
            info: TokenJson::from(&created.record),
        })
    }

    pub(crate) async fn tokens(&self) -> AdminResult<Vec<TokenJson>> {
        let tokens = self.auth.list_tokens().await?;
        Ok(tokens.iter().map(TokenJson::from).collect())
    }

    pub(crate) async fn revoke_token(&self, id: &str, actor: &str) -> AdminResult<TokenJson> {
        // Audited by the authenticator, in the revocation's transaction.
        let record = self.auth.revoke_token(id, actor).await?;
        tracing::info!(token_id = %id, by = %actor, "token revoked");
        Ok(TokenJson::from(&record))
    }

    pub(crate) async fn audit_records(
        &self,
        filter: &AuditFilter,
    ) -> AdminResult<Vec<AuditRecordJson>> {
        let records = self.audit().store().list(filter).await?;
        Ok(records.iter().map(AuditRecordJson::from).collect())
    }

    /// Verifies the hash chain, and records that it was verified and what was found.
    pub(crate) async fn verify_audit(&self, actor: &str) -> AdminResult<AuditVerifyJson> {
        let report = self.audit().store().verify().await?;
        let (outcome, detail) = match &report.first_fault {
            Some(fault) => (Outcome::Failed, fault.to_string()),
            None => (Outcome::Success, format!("{} rows intact", report.rows)),
        };
        self.audit()
            .record(AuditEntry::new(actor, AuditOperation::VerifyAudit, outcome).detail(detail))
            .await;
        Ok(AuditVerifyJson {
            rows: report.rows,
            intact: report.first_fault.is_none(),
            first_fault: report.first_fault.as_ref().map(ToString::to_string),
            fault_seq: report.first_fault.map(|f| f.seq()),
            head_hash: report.head_hash,
        })
    }
}
