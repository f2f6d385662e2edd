//! The one place where domain errors become gRPC statuses. The match has no catch-all arm, so
//! a new error variant cannot compile until someone decides its status code.

use tonic::{Code, Status};
use tracing::{error, warn};

use crate::admin::{AdminError, InvalidInput};
use crate::auth::AuthError;
use crate::keystore::KeyError;
use crate::rotation::RotationError;

impl From<KeyError> for Status {
    fn from(err: KeyError) -> Self {
        let code = match &err {
            KeyError::InvalidKeyName { .. }
            | KeyError::EmptyKeyName
            | KeyError::Malformed(_)
            | KeyError::AuthenticationFailed
            | KeyError::WrongKind { .. } => Code::InvalidArgument,
            KeyError::KeyNotFound(_) | KeyError::VersionNotFound { .. } => Code::NotFound,
            KeyError::VersionRetired { .. }
            | KeyError::WrongPurpose { .. }
            | KeyError::RotationDisabled
            | KeyError::RotatedRecently { .. }
            | KeyError::NotDue { .. }
            | KeyError::MigrationInProgress { .. }
            | KeyError::NoPreviousVersion { .. }
            | KeyError::PreviousVersionRetired { .. } => Code::FailedPrecondition,
            KeyError::TooLarge { .. } => Code::ResourceExhausted,
            KeyError::Unavailable(detail) => {
                warn!(%detail, "keystore database unavailable");
                Code::Unavailable
            }
            KeyError::AuditUnavailable(detail) => {
                error!(%detail, "audit write failed; the operation was not performed");
                Code::Unavailable
            }
            KeyError::Internal(detail) => {
                error!(%detail, "internal error");
                Code::Internal
            }
        };
        // The Display of every variant is written for the caller and carries no internal detail.
        Status::new(code, err.to_string())
    }
}

impl From<RotationError> for Status {
    fn from(err: RotationError) -> Self {
        let code = match err {
            RotationError::Key(inner) => return Status::from(inner),
            RotationError::EmptyEventId => Code::InvalidArgument,
            RotationError::EventNotFound(_) => Code::NotFound,
            RotationError::WrongStatus { .. }
            | RotationError::OtherEventOpen { .. }
            | RotationError::Superseded { .. }
            | RotationError::RollbackRefused { .. } => Code::FailedPrecondition,
            RotationError::Target(ref detail) => {
                warn!(%detail, "migration target unavailable");
                Code::Unavailable
            }
        };
        Status::new(code, err.to_string())
    }
}

impl From<AuthError> for Status {
    fn from(err: AuthError) -> Self {
        let code = match err {
            AuthError::Store(store) => return Status::from(KeyError::from(store)),
            AuthError::Missing
            | AuthError::Invalid
            | AuthError::Expired { .. }
            | AuthError::Revoked { .. } => Code::Unauthenticated,
            AuthError::RateLimited { .. } => Code::ResourceExhausted,
            AuthError::AdminOnly { .. } | AuthError::OutOfScope { .. } => Code::PermissionDenied,
            AuthError::InvalidRequest(_) => Code::InvalidArgument,
            AuthError::NotFound(_) => Code::NotFound,
        };
        Status::new(code, err.to_string())
    }
}

impl From<AdminError> for Status {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Invalid(invalid) => Status::from(invalid),
            AdminError::Key(inner) => Status::from(inner),
            AdminError::Rotation(inner) => Status::from(inner),
            AdminError::Auth(inner) => Status::from(inner),
            AdminError::Storage(inner) => Status::from(KeyError::from(inner)),
        }
    }
}

impl From<InvalidInput> for Status {
    fn from(err: InvalidInput) -> Self {
        let code = match err {
            InvalidInput::UnknownStatus(_)
            | InvalidInput::UnknownReportKind(_)
            | InvalidInput::UnknownRole(_)
            | InvalidInput::BadTime { .. }
            | InvalidInput::EmptyPeriod { .. }
            | InvalidInput::BatchSize(_) => Code::InvalidArgument,
        };
        Status::new(code, err.to_string())
    }
}
