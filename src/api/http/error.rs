//! HTTP errors: `{"error": {"code": "...", "message": "..."}}` with the status a client expects.
//! Domain errors reach here through the same `tonic::Status` mapping the gRPC API uses, so both
//! APIs always agree on what a failure is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tonic::Code;

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
        let body = json!({"error": {"code": self.code, "message": self.message}});
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
