//! What an audit row says was done: one [`AuditOperation`] per audited operation, stored (and
//! hashed) as the spelling [`AuditOperation::as_str`] gives, which is the one earlier releases
//! stored, so chains written before the enum existed still verify.

use std::fmt;

/// An audited operation. Denials are recorded under the name of the refused rpc instead
/// ([`AuditEntry::new`](super::AuditEntry::new) takes any string for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOperation {
    /// A rotation the scheduler started: "Rotate (scheduled)".
    RotateScheduled,
    /// A rotation asked for without force (ScheduleRotation): "Rotate (manual)".
    RotateManual,
    /// A forced rotation (Rotate, ScheduleRotation with force): "Rotate (emergency)".
    RotateEmergency,
    /// `KeyService.Rollback`: the key's previous version is primary again.
    Rollback,
    ExecuteEvent,
    RetryEvent,
    RollbackEvent,
    /// The end of a migration, written by the worker: "Migration completed".
    MigrationCompleted,
    MigrationFailed,
    MigrationRolledBack,
    CreateToken,
    RevokeToken,
    VerifyAudit,
    RetireVersion,
    /// `rekey import vault-transit`: a key and its versions brought in from another system.
    ImportKey,
    /// Data-plane counts since the last flush (`data_plane_audit = counts`).
    DataPlaneSummary,
}

impl AuditOperation {
    /// The spelling stored in the database and hashed into the chain. Never change one: rows
    /// already written carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOperation::RotateScheduled => "Rotate (scheduled)",
            AuditOperation::RotateManual => "Rotate (manual)",
            AuditOperation::RotateEmergency => "Rotate (emergency)",
            AuditOperation::Rollback => "Rollback",
            AuditOperation::ExecuteEvent => "ExecuteEvent",
            AuditOperation::RetryEvent => "RetryEvent",
            AuditOperation::RollbackEvent => "RollbackEvent",
            AuditOperation::MigrationCompleted => "Migration completed",
            AuditOperation::MigrationFailed => "Migration failed",
            AuditOperation::MigrationRolledBack => "Migration rolled_back",
            AuditOperation::CreateToken => "CreateToken",
            AuditOperation::RevokeToken => "RevokeToken",
            AuditOperation::VerifyAudit => "VerifyAudit",
            AuditOperation::RetireVersion => "RetireVersion",
            AuditOperation::ImportKey => "ImportKey",
            AuditOperation::DataPlaneSummary => "data_plane.summary",
        }
    }
}

impl fmt::Display for AuditOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<AuditOperation> for String {
    fn from(operation: AuditOperation) -> Self {
        operation.as_str().to_owned()
    }
}
