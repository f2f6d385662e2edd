//! The one place where domain errors become gRPC statuses. The match has no catch-all arm, so
//! a new error variant cannot compile until someone decides its status code and its
//! machine-readable reason (`rekey.v1.ErrorReason`, sent as `rekey-error-reason` metadata so
//! that clients never parse a message written for people).

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};
use tracing::{error, warn};

use crate::proto::ErrorReason as Reason;

use crate::admin::{AdminError, InvalidInput};
use crate::auth::AuthError;
use crate::keystore::KeyError;
use crate::rotation::RotationError;

/// The name of the metadata entry that carries the reason.
pub(crate) const REASON_HEADER: &str = "rekey-error-reason";

/// A status with its reason in the metadata. `message` is the error's Display, which every
/// variant writes for the caller, without internal detail.
pub(crate) fn status(code: Code, reason: Reason, message: String) -> Status {
    let mut metadata = MetadataMap::new();
    metadata.insert(
        REASON_HEADER,
        MetadataValue::from_static(reason.as_str_name()),
    );
    Status::with_metadata(code, message, metadata)
}

impl From<KeyError> for Status {
    fn from(err: KeyError) -> Self {
        let (code, reason) = match &err {
            KeyError::InvalidKeyName { .. } | KeyError::EmptyKeyName => {
                (Code::InvalidArgument, Reason::InvalidArgument)
            }
            KeyError::Malformed(_)
            | KeyError::WrongKind { .. }
            | KeyError::VaultForm(_)
            | KeyError::TransitKeyMismatch { .. }
            | KeyError::TransitKeyUnnamed
            | KeyError::TransitVersionMismatch { .. } => {
                (Code::InvalidArgument, Reason::InvalidValue)
            }
            KeyError::AuthenticationFailed | KeyError::StreamAuthenticationFailed => {
                (Code::InvalidArgument, Reason::AuthenticationFailed)
            }
            KeyError::KeyNotFound(_) => (Code::NotFound, Reason::KeyNotFound),
            KeyError::KeyExists(_) => (Code::AlreadyExists, Reason::InvalidArgument),
            KeyError::VersionNotFound { .. } => (Code::NotFound, Reason::VersionNotFound),
            KeyError::VersionRetired { .. } => (Code::FailedPrecondition, Reason::VersionRetired),
            KeyError::WrongPurpose { .. } => (Code::FailedPrecondition, Reason::WrongPurpose),
            KeyError::RotationDisabled
            | KeyError::RotatedRecently { .. }
            | KeyError::NotDue { .. }
            | KeyError::MigrationInProgress { .. }
            | KeyError::NoPreviousVersion { .. }
            | KeyError::PreviousVersionRetired { .. } => {
                (Code::FailedPrecondition, Reason::RotationRefused)
            }
            KeyError::TooLarge { .. } => (Code::ResourceExhausted, Reason::TooLarge),
            KeyError::Unavailable(detail) => {
                warn!(%detail, "keystore database unavailable");
                (Code::Unavailable, Reason::Unavailable)
            }
            KeyError::RootKeyUnavailable(_) => (Code::Unavailable, Reason::Unavailable),
            KeyError::AuditUnavailable(detail) => {
                error!(%detail, "audit write failed; the operation was not performed");
                (Code::Unavailable, Reason::Unavailable)
            }
            KeyError::Internal(detail) => {
                error!(%detail, "internal error");
                (Code::Internal, Reason::Internal)
            }
        };
        status(code, reason, err.to_string())
    }
}

impl From<RotationError> for Status {
    fn from(err: RotationError) -> Self {
        let (code, reason) = match err {
            RotationError::Key(inner) => return Status::from(inner),
            RotationError::EmptyEventId => (Code::InvalidArgument, Reason::InvalidArgument),
            RotationError::EventNotFound(_) => (Code::NotFound, Reason::EventNotFound),
            RotationError::WrongStatus { .. }
            | RotationError::OtherEventOpen { .. }
            | RotationError::Superseded { .. }
            | RotationError::HeldBy { .. }
            | RotationError::RollbackRefused { .. } => {
                (Code::FailedPrecondition, Reason::EventState)
            }
            RotationError::Target(ref detail) => {
                warn!(%detail, "migration target unavailable");
                (Code::Unavailable, Reason::Unavailable)
            }
        };
        status(code, reason, err.to_string())
    }
}

impl From<AuthError> for Status {
    fn from(err: AuthError) -> Self {
        let (code, reason) = match err {
            AuthError::Store(store) => return Status::from(KeyError::from(store)),
            AuthError::Missing
            | AuthError::Invalid
            | AuthError::Expired { .. }
            | AuthError::Revoked { .. } => (Code::Unauthenticated, Reason::Unauthenticated),
            AuthError::RateLimited {
                retry_after_secs, ..
            } => {
                let mut limited = status(
                    Code::ResourceExhausted,
                    Reason::RateLimited,
                    err.to_string(),
                );
                limited
                    .metadata_mut()
                    .insert("retry-after", MetadataValue::from(retry_after_secs));
                return limited;
            }
            AuthError::AdminOnly { .. } | AuthError::OutOfScope { .. } => {
                (Code::PermissionDenied, Reason::PermissionDenied)
            }
            AuthError::InvalidRequest(_) => (Code::InvalidArgument, Reason::InvalidArgument),
            AuthError::NotFound(_) => (Code::NotFound, Reason::TokenNotFound),
        };
        status(code, reason, err.to_string())
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
        let (code, reason) = match &err {
            InvalidInput::UnknownStatus(_)
            | InvalidInput::UnknownReportKind(_)
            | InvalidInput::UnknownRole(_)
            | InvalidInput::BadTime { .. }
            | InvalidInput::EmptyPeriod { .. }
            | InvalidInput::BatchSize(_)
            | InvalidInput::MinVersionAboveLatest { .. } => {
                (Code::InvalidArgument, Reason::InvalidArgument)
            }
            InvalidInput::MinVersionLowered { .. } | InvalidInput::VersionsStillInUse { .. } => {
                (Code::FailedPrecondition, Reason::InvalidArgument)
            }
        };
        status(code, reason, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(status: &Status) -> &str {
        status
            .metadata()
            .get(REASON_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn every_status_names_its_reason() {
        let retired = Status::from(KeyError::VersionRetired {
            key: "K".into(),
            version: 1,
        });
        assert_eq!(
            (retired.code(), reason(&retired)),
            (Code::FailedPrecondition, "ERROR_REASON_VERSION_RETIRED")
        );
        let forged = Status::from(KeyError::AuthenticationFailed);
        assert_eq!(reason(&forged), "ERROR_REASON_AUTHENTICATION_FAILED");
        let missing = Status::from(KeyError::KeyNotFound("K".into()));
        assert_eq!(reason(&missing), "ERROR_REASON_KEY_NOT_FOUND");
        let event = Status::from(RotationError::EventNotFound("evt-1".into()));
        assert_eq!(reason(&event), "ERROR_REASON_EVENT_NOT_FOUND");
    }

    #[test]
    fn rate_limiting_says_when_to_retry() {
        let limited = Status::from(AuthError::RateLimited {
            peer: "127.0.0.1".parse().unwrap(),
            retry_after_secs: 17,
        });
        assert_eq!(limited.code(), Code::ResourceExhausted);
        assert_eq!(reason(&limited), "ERROR_REASON_RATE_LIMITED");
        assert_eq!(limited.metadata().get("retry-after").unwrap(), "17");
    }
}
