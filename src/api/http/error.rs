//! HTTP errors: `{"error": {"code": "...", "message": "..."}}` with the status a client expects.
//! Domain errors reach here through the same `tonic::Status` mapping the gRPC API uses, so both
//! APIs always agree on what a failure is.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tonic::Code;

use super::openapi::{ErrorBody, ErrorDetail};

/// The largest request body accepted (the JSON bodies are a few hundred bytes).
pub(super) const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct HttpError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl HttpError {
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_ARGUMENT",
            message: message.into(),
        }
    }

    /// An error for an HTTP status that no domain error produces (405, 413, 415, ...).
    pub(super) fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::FORBIDDEN => "PERMISSION_DENIED",
            StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            s if s.is_server_error() => "INTERNAL",
            _ => "INVALID_ARGUMENT",
        };
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: message.into(),
        }
    }
}

impl From<tonic::Status> for HttpError {
    fn from(status: tonic::Status) -> Self {
        let (http, code) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => {
                (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
            }
            Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
                (StatusCode::CONFLICT, "FAILED_PRECONDITION")
            }
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
            }
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
        };
        Self {
            status: http,
            code,
            message: status.message().to_owned(),
        }
    }
}

/// A JSON body that could not be read: 415 without `Content-Type: application/json`, 413 when
/// larger than [`BODY_LIMIT`], 400 for a syntax error, an unknown field or a wrong type.
impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON sent with `Content-Type: application/json`",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(),
            _ => Self::bad_request(format!("invalid JSON body: {}", rejection.body_text())),
        }
    }
}

impl HttpError {
    pub(super) fn too_large() -> Self {
        Self::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {BODY_LIMIT} bytes"),
        )
    }
}

/// Any domain error that the gRPC layer knows how to answer.
macro_rules! from_domain {
    ($($t:ty),*) => {$(
        impl From<$t> for HttpError {
            fn from(err: $t) -> Self {
                HttpError::from(tonic::Status::from(err))
            }
        }
    )*};
}
from_domain!(
    crate::admin::AdminError,
    crate::keystore::KeyError,
    crate::rotation::RotationError,
    crate::auth::AuthError
);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
