//! The one error of the admin core. Each transport maps it once: gRPC through the exhaustive
//! match in `api/status.rs`, HTTP through that same gRPC status.

use crate::auth::AuthError;
use crate::keystore::KeyError;
use crate::rotation::{BatchSizeError, RotationError};
use crate::storage_error::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// A request value the core refuses; the message names the value and the rule.
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Rotation(#[from] RotationError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

pub(crate) type AdminResult<T> = Result<T, AdminError>;

/// Why a request value was refused, the same words on every face.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidInput {
    #[error(
        "unknown status {0:?}; use one of pending, in_progress, completed, failed, rolled_back"
    )]
    UnknownStatus(String),
    #[error("unknown report kind {0:?}; use post_rotation, weekly, monthly or quarterly")]
    UnknownReportKind(String),
    #[error("role {0:?} is not \"admin\" or \"client\"")]
    UnknownRole(String),
    #[error("the report period is empty: its start ({from}) must be before its end ({to})")]
    EmptyPeriod { from: String, to: String },
    #[error("{field} must be an RFC 3339 time such as 2026-01-31T00:00:00Z, got {value:?}")]
    BadTime { field: &'static str, value: String },
    #[error(transparent)]
    BatchSize(#[from] BatchSizeError),
    #[error("min_decryption_version {asked} is above key {key:?}'s latest version {latest}")]
    MinVersionAboveLatest {
        key: String,
        asked: u32,
        latest: u32,
    },
    #[error("min_decryption_version of key {key:?} is {current}; it cannot be lowered to {asked}: Rekey never brings a retired version back")]
    MinVersionLowered {
        key: String,
        asked: u32,
        current: u32,
    },
    #[error("versions below {asked} of key {key:?} still protect {records} stored records in its migration targets (by version: {by_version}); migrate them first (rekey events execute, or rekey rotate --wait)")]
    VersionsStillInUse {
        key: String,
        asked: u32,
        records: u64,
        by_version: String,
    },
}
