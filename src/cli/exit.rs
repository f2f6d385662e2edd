//! Exit codes that scripts can rely on, and the error type of the client subcommands.

use std::fmt;

use tonic::Code;

/// The process exit code of a client subcommand (see `rekey --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Success,
    /// The operation failed: event failed, audit tampered, server error.
    Failed,
    /// Bad arguments, or a request the server rejected as invalid.
    Usage,
    /// Nothing done: the key is not due.
    NothingDone,
    NotFound,
    /// Unauthenticated or permission denied.
    Denied,
    /// Server unreachable or unavailable.
    Unreachable,
}

impl Exit {
    pub(crate) fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::NothingDone => 3,
            Exit::NotFound => 4,
            Exit::Denied => 5,
            Exit::Unreachable => 6,
        }
    }

    /// The exit code for a gRPC status.
    pub(crate) fn of(code: Code) -> Self {
        match code {
            Code::Ok => Exit::Success,
            Code::NotFound => Exit::NotFound,
            Code::Unauthenticated | Code::PermissionDenied => Exit::Denied,
            Code::Unavailable => Exit::Unreachable,
            Code::InvalidArgument => Exit::Usage,
            _ => Exit::Failed,
        }
    }
}

/// A failed client subcommand: what to print after `rekey: error: `, and how to exit.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(Exit::Failed, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// `err` and its sources, joined with ": ".
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        let mut message = status.message().to_owned();
        if message.is_empty() {
            message = status.code().description().to_owned();
        }
        if let Some(source) = std::error::Error::source(&status) {
            let detail = chain(source);
            if !message.contains(&detail) {
                message = format!("{message}: {detail}");
            }
        }
        CliError::new(Exit::of(status.code()), message)
    }
}

/// A client error: its exit code, and the server's (or the client's) words without the
/// variant's prefix, as `rekey: error: ` already says what it is.
impl From<rekey_client::Error> for CliError {
    fn from(err: rekey_client::Error) -> Self {
        use rekey_client::Error as E;
        let (exit, message) = match err {
            E::KeyNotFound { message } | E::NotFound { message } => (Exit::NotFound, message),
            E::Unauthenticated { message }
            | E::PermissionDenied { message }
            | E::RateLimited { message, .. } => (Exit::Denied, message),
            E::Unavailable { message }
            | E::DeadlineExceeded { message }
            | E::Transport { message } => (Exit::Unreachable, message),
            E::InvalidArgument { message }
            | E::InvalidCiphertext { message }
            | E::AuthenticationFailed { message }
            | E::TooLarge { message }
            | E::Config { message } => (Exit::Usage, message),
            E::VersionRetired { message }
            | E::FailedPrecondition { message }
            | E::Internal { message }
            | E::Io { message, .. } => (Exit::Failed, message),
        };
        CliError::new(exit, message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::failed(format!("cannot write output: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_documented_exit_codes() {
        let code = |c| Exit::of(c).code();
        assert_eq!(code(Code::NotFound), 4);
        assert_eq!(code(Code::Unauthenticated), 5);
        assert_eq!(code(Code::PermissionDenied), 5);
        assert_eq!(code(Code::Unavailable), 6);
        assert_eq!(code(Code::InvalidArgument), 2);
        assert_eq!(code(Code::FailedPrecondition), 1);
        assert_eq!(code(Code::Internal), 1);
        let err = CliError::from(tonic::Status::not_found("no event \"evt-x\""));
        assert_eq!(
            (err.exit, err.message.as_str()),
            (Exit::NotFound, "no event \"evt-x\"")
        );
    }
}
