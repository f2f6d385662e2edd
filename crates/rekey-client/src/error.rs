//! The client's one error type: a closed enum mapped from the status codes the proto documents
//! (proto/rekey/v1/*.proto), keeping the server's message, which is written for the caller and
//! never carries key bytes or plaintext.

use std::time::Duration;

use tonic::Code;

/// Everything a Rekey call can fail with. Closed on purpose: a `match` without a catch-all arm
/// keeps compiling only while it handles every case the client can produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key (or the key version a value names) does not exist on this server (NOT_FOUND).
    #[error("key not found: {message}")]
    KeyNotFound { message: String },
    /// The key version a value names is retired and refuses every operation
    /// (FAILED_PRECONDITION).
    #[error("key version retired: {message}")]
    VersionRetired { message: String },
    /// The value is not a well-formed Rekey value of the expected kind (truncated, not Rekey's,
    /// a signature where a ciphertext was expected, another key's envelope, ...).
    #[error("invalid ciphertext: {message}")]
    InvalidCiphertext { message: String },
    /// The value was modified, or the associated data differs from the one used to encrypt it.
    #[error("authentication failed: {message}")]
    AuthenticationFailed { message: String },
    /// The request itself is wrong (INVALID_ARGUMENT): change it, do not retry it unchanged.
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String },
    /// The request is refused in the key's or event's current state (FAILED_PRECONDITION).
    #[error("failed precondition: {message}")]
    FailedPrecondition { message: String },
    /// Something other than a key (a rotation event, a token) does not exist (NOT_FOUND).
    #[error("not found: {message}")]
    NotFound { message: String },
    /// The token is valid but not allowed to do this (PERMISSION_DENIED).
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    /// Missing, unknown, expired or revoked token (UNAUTHENTICATED).
    #[error("unauthenticated: {message}")]
    Unauthenticated { message: String },
    /// Too many failed authentications from this address (RESOURCE_EXHAUSTED from the auth
    /// limiter); `retry_after` is the server's hint when it gave one.
    #[error("rate limited: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The server is unreachable, shutting down, or its database is (UNAVAILABLE), after the
    /// retries the call was allowed.
    #[error("unavailable: {message}")]
    Unavailable { message: String },
    /// The call's deadline passed (per attempt or overall).
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded { message: String },
    /// The request is larger than the server accepts (RESOURCE_EXHAUSTED / OUT_OF_RANGE).
    #[error("too large: {message}")]
    TooLarge { message: String },
    /// A server bug or damaged keystore (INTERNAL and codes the API never documents). Report it.
    #[error("internal error: {message}")]
    Internal { message: String },
    /// The client's own configuration is wrong (address, token file, certificates).
    #[error("client configuration: {message}")]
    Config { message: String },
    /// The connection failed in a way gRPC reports without a documented status.
    #[error("transport: {message}")]
    Transport { message: String },
    /// Reading or writing the caller's own stream (a file, a socket) failed while encrypting
    /// or decrypting it; nothing to do with the server. (Python and TypeScript raise their
    /// native I/O errors here.)
    #[error("I/O: {message}")]
    Io {
        kind: std::io::ErrorKind,
        message: String,
    },
}

/// What the call sent, which decides how an ambiguous status reads: INVALID_ARGUMENT on a call
/// that carried a ciphertext or signature is about that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// Decrypt, Rewrap, Verify: the request's subject is a Rekey value.
    Value,
    /// Everything else.
    Other,
}

/// The prefix of the server's authentication-failure message (src/keystore/error.rs).
const AUTH_FAILED: &str = "ciphertext failed authentication";
/// The marker of the auth limiter's message (src/auth/authenticator): "...; retry in N s".
const RATE_LIMITED: &str = "too many failed authentication attempts";
/// The marker of a retired version (src/keystore/error.rs `VersionRetired`).
const RETIRED: &str = "is retired and can no longer be used";

/// tonic's message for a grpc-timeout that expired (its `TimeoutExpired`), sent with CANCELLED.
const TIMEOUT_EXPIRED: &str = "Timeout expired";

/// The metadata entry in which the server names the `rekey.v1.ErrorReason` of every error.
const REASON_HEADER: &str = "rekey-error-reason";

impl Error {
    /// Maps a gRPC status by the machine-readable reason the server attaches
    /// (`rekey-error-reason`, proto/rekey/v1/errors.proto); a status without one (from a proxy,
    /// from tonic itself, or a reason newer than this client) by its code, reading the message
    /// only to split codes the proto documents as shared.
    pub(crate) fn from_status(status: &tonic::Status, input: Input) -> Self {
        let reason = status
            .metadata()
            .get(REASON_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(rekey_proto::ErrorReason::from_str_name);
        match reason {
            Some(reason) => Self::from_reason(reason, status),
            None => Self::from_code(status, input),
        }
    }

    fn from_reason(reason: rekey_proto::ErrorReason, status: &tonic::Status) -> Self {
        use rekey_proto::ErrorReason as R;
        let message = status.message().to_owned();
        match reason {
            R::InvalidArgument => Error::InvalidArgument { message },
            R::KeyNotFound | R::VersionNotFound => Error::KeyNotFound { message },
            R::VersionRetired => Error::VersionRetired { message },
            R::WrongPurpose | R::RotationRefused | R::EventState => {
                Error::FailedPrecondition { message }
            }
            R::InvalidValue => Error::InvalidCiphertext { message },
            R::AuthenticationFailed => Error::AuthenticationFailed { message },
            R::TooLarge => Error::TooLarge { message },
            R::EventNotFound | R::TokenNotFound => Error::NotFound { message },
            R::Unauthenticated => Error::Unauthenticated { message },
            R::PermissionDenied => Error::PermissionDenied { message },
            R::RateLimited => Error::RateLimited {
                retry_after: status
                    .metadata()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs)
                    .or_else(|| retry_hint(&message)),
                message,
            },
            R::Unavailable => Error::Unavailable { message },
            R::Internal | R::Unspecified => Error::Internal { message },
        }
    }

    fn from_code(status: &tonic::Status, input: Input) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::NotFound => {
                if message.starts_with("key ") || message.starts_with("version ") {
                    Error::KeyNotFound { message }
                } else {
                    Error::NotFound { message }
                }
            }
            Code::FailedPrecondition => {
                if message.contains(RETIRED) {
                    Error::VersionRetired { message }
                } else {
                    Error::FailedPrecondition { message }
                }
            }
            Code::InvalidArgument => {
                if message.starts_with(AUTH_FAILED) {
                    Error::AuthenticationFailed { message }
                } else if input == Input::Value {
                    Error::InvalidCiphertext { message }
                } else {
                    Error::InvalidArgument { message }
                }
            }
            Code::ResourceExhausted => {
                if message.contains(RATE_LIMITED) {
                    Error::RateLimited {
                        retry_after: retry_hint(&message),
                        message,
                    }
                } else {
                    Error::TooLarge { message }
                }
            }
            Code::OutOfRange => Error::TooLarge { message },
            Code::PermissionDenied => Error::PermissionDenied { message },
            Code::Unauthenticated => Error::Unauthenticated { message },
            Code::Unavailable => Error::Unavailable { message },
            Code::DeadlineExceeded => Error::DeadlineExceeded { message },
            // tonic reports a grpc-timeout that expired, the server's or this client's own, as
            // CANCELLED "Timeout expired": it is a deadline, and as retriable as one.
            Code::Cancelled if message == TIMEOUT_EXPIRED => Error::DeadlineExceeded { message },
            Code::Unknown | Code::Cancelled => Error::Transport { message },
            Code::Internal
            | Code::Ok
            | Code::AlreadyExists
            | Code::Aborted
            | Code::Unimplemented
            | Code::DataLoss => Error::Internal { message },
        }
    }

    /// Whether waiting and sending the same request again may succeed (for idempotent calls).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::DeadlineExceeded { .. }
        )
    }
}

/// Reads "retry in N s" from the auth limiter's message.
fn retry_hint(message: &str) -> Option<Duration> {
    let rest = &message[message.find("retry in ")? + "retry in ".len()..];
    let secs: u64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    fn with_reason(code: Code, reason: &'static str, msg: &str) -> Status {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert(
            REASON_HEADER,
            tonic::metadata::MetadataValue::from_static(reason),
        );
        Status::with_metadata(code, msg, metadata)
    }

    /// The reason decides, whatever the words: a reworded message still maps the same way.
    #[test]
    fn the_servers_reason_decides_over_the_message() {
        let s = with_reason(Code::NotFound, "ERROR_REASON_KEY_NOT_FOUND", "reworded");
        assert!(matches!(
            Error::from_status(&s, Input::Other),
            Error::KeyNotFound { .. }
        ));
        let s = with_reason(
            Code::InvalidArgument,
            "ERROR_REASON_AUTHENTICATION_FAILED",
            "reworded",
        );
        assert!(matches!(
            Error::from_status(&s, Input::Other),
            Error::AuthenticationFailed { .. }
        ));
        let s = with_reason(
            Code::FailedPrecondition,
            "ERROR_REASON_VERSION_RETIRED",
            "x",
        );
        assert!(matches!(
            Error::from_status(&s, Input::Value),
            Error::VersionRetired { .. }
        ));
        let mut s = with_reason(
            Code::ResourceExhausted,
            "ERROR_REASON_RATE_LIMITED",
            "slow down",
        );
        s.metadata_mut()
            .insert("retry-after", tonic::metadata::MetadataValue::from(9u64));
        assert_eq!(
            Error::from_status(&s, Input::Other),
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(9)),
                message: "slow down".into()
            }
        );
        // An unknown reason falls back to the code.
        let s = with_reason(Code::NotFound, "ERROR_REASON_FROM_THE_FUTURE", "event x");
        assert!(matches!(
            Error::from_status(&s, Input::Other),
            Error::NotFound { .. }
        ));
    }

    fn map(code: Code, msg: &str, input: Input) -> Error {
        Error::from_status(&Status::new(code, msg), input)
    }

    #[test]
    fn documented_codes_map_to_their_variants() {
        let o = Input::Other;
        assert!(matches!(
            map(
                Code::NotFound,
                "key \"K\" does not exist; GetStatus lists the keys",
                o
            ),
            Error::KeyNotFound { .. }
        ));
        assert!(matches!(
            map(Code::NotFound, "version 3 of key \"K\" does not exist", o),
            Error::KeyNotFound { .. }
        ));
        assert!(matches!(
            map(Code::NotFound, "rotation event \"e\" does not exist", o),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            map(
                Code::FailedPrecondition,
                "version 1 of key \"K\" is retired and can no longer be used; re-encrypt",
                Input::Value
            ),
            Error::VersionRetired { .. }
        ));
        assert!(matches!(
            map(Code::FailedPrecondition, "key rotation is disabled", o),
            Error::FailedPrecondition { .. }
        ));
        assert!(matches!(
            map(Code::PermissionDenied, "scope", o),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(
            map(Code::Unauthenticated, "token", o),
            Error::Unauthenticated { .. }
        ));
        assert!(matches!(
            map(Code::Unavailable, "down", o),
            Error::Unavailable { .. }
        ));
        assert!(matches!(
            map(Code::Internal, "see the server log", o),
            Error::Internal { .. }
        ));
        assert!(matches!(
            map(Code::Cancelled, "Timeout expired", o),
            Error::DeadlineExceeded { .. }
        ));
        assert!(matches!(
            map(Code::Cancelled, "the peer went away", o),
            Error::Transport { .. }
        ));
        assert!(matches!(
            map(Code::OutOfRange, "decoded message length too large", o),
            Error::TooLarge { .. }
        ));
    }

    #[test]
    fn invalid_argument_reads_by_what_was_sent() {
        let auth =
            "ciphertext failed authentication: it was modified, or the associated data differs";
        assert!(matches!(
            map(Code::InvalidArgument, auth, Input::Value),
            Error::AuthenticationFailed { .. }
        ));
        assert!(matches!(
            map(
                Code::InvalidArgument,
                "ciphertext is truncated",
                Input::Value
            ),
            Error::InvalidCiphertext { .. }
        ));
        assert!(matches!(
            map(Code::InvalidArgument, "invalid key name", Input::Other),
            Error::InvalidArgument { .. }
        ));
    }

    #[test]
    fn resource_exhausted_splits_rate_limit_from_size() {
        let limited = map(
            Code::ResourceExhausted,
            "too many failed authentication attempts from 127.0.0.1; retry in 42 s",
            Input::Other,
        );
        assert_eq!(
            limited,
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(42)),
                message: "too many failed authentication attempts from 127.0.0.1; retry in 42 s"
                    .into()
            }
        );
        assert!(matches!(
            map(
                Code::ResourceExhausted,
                "plaintext is 9 bytes, larger than",
                Input::Other
            ),
            Error::TooLarge { .. }
        ));
        assert_eq!(retry_hint("retry in soon"), None);
    }

    #[test]
    fn the_servers_message_is_kept() {
        let err = map(
            Code::NotFound,
            "key \"PAYMENTS\" does not exist",
            Input::Other,
        );
        assert_eq!(
            err.to_string(),
            "key not found: key \"PAYMENTS\" does not exist"
        );
    }

    #[test]
    fn only_unavailable_and_deadline_are_transient() {
        assert!(map(Code::Unavailable, "", Input::Other).is_transient());
        assert!(map(Code::DeadlineExceeded, "", Input::Other).is_transient());
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::Internal,
            Code::PermissionDenied,
        ] {
            assert!(!map(code, "", Input::Other).is_transient(), "{code:?}");
        }
    }
}
