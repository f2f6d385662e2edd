//! The storage contracts that the storage behaviour suites (`tests/integration/store_suite.rs`
//! and `audit_suite.rs`) test directly, everything their methods take and return, and the SQL
//! stores that implement them. A future backend implements these contracts and runs the same
//! suites. The event and token contracts stay crate-private until they have suites of their
//! own.

pub use crate::audit::{
    record_hash, AuditEntry, AuditFilter, AuditOperation, AuditRecord, AuditStore, ChainFault,
    Outcome, VerifyReport, GENESIS_HASH,
};
pub use crate::keystore::store::{
    EventDraft, KeyPolicy, KeyRecord, KeyStore, MakeVersion, NewKey, NewVersion, Purpose,
    RolledBack, RotateGuard, Rotated, VersionRecord, VersionState,
};
pub use crate::sql::{PostgresStore, SqliteStore};
pub use crate::sql_connect::ConnectError;
pub use crate::storage_error::{StoreError, StoreResult};
