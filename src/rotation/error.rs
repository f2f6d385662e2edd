//! Errors of rotation operations; mapped to gRPC statuses in `api::status`.

use crate::keystore::KeyError;
use crate::rotation::events::EventStatus;
use crate::rotation::targets::TargetError;
use crate::storage_error::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RotationError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("event id is empty")]
    EmptyEventId,
    #[error("rotation event {0:?} does not exist; ListEvents shows the events")]
    EventNotFound(String),
    #[error("event {id} is {status}; {what}")]
    WrongStatus {
        id: String,
        status: EventStatus,
        what: &'static str,
    },
    #[error("event {id} cannot be resumed while event {other} of the same key is unfinished")]
    OtherEventOpen { id: String, other: String },
    #[error("event {id} moves records to version {target}, but the key's primary is now version {primary}: a newer rotation or rollback superseded it; follow that event instead")]
    Superseded {
        id: String,
        target: u32,
        primary: u32,
    },
    #[error("event {id} is in progress on replica {owner}, whose lease runs until {until} (it is renewed while that replica works): the event is not stuck; wait for it, or roll it back")]
    HeldBy {
        id: String,
        owner: String,
        until: String,
    },
    #[error("cannot roll back event {id}: {reason}")]
    RollbackRefused { id: String, reason: String },
    /// A migration target database cannot be reached or answered with an error.
    #[error("{0}")]
    Target(#[from] TargetError),
}

pub(crate) type RotationResult<T> = Result<T, RotationError>;

impl RotationError {
    /// Whether the server (its database, a migration target) failed, as opposed to the
    /// request being refused for a reason the caller can act on.
    pub(crate) fn is_server_fault(&self) -> bool {
        matches!(
            self,
            RotationError::Key(
                KeyError::Unavailable(_)
                    | KeyError::RootKeyUnavailable(_)
                    | KeyError::AuditUnavailable(_)
                    | KeyError::Internal(_)
            ) | RotationError::Target(_)
        )
    }
}

impl From<StoreError> for RotationError {
    fn from(err: StoreError) -> Self {
        RotationError::Key(KeyError::from(err))
    }
}
