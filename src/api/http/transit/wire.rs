//! Vault's JSON on the wire: the request bodies Transit clients send, the response envelope
//! Vault wraps every answer in, and `{"errors": [...]}` with Vault's status codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tonic::Code;
use zeroize::Zeroizing;

use crate::api::status::REASON_HEADER;
use crate::proto::ErrorReason;

/// A Transit answer: Vault's envelope around `data`, status 200 (or `status` for a batch
/// whose items partly failed).
pub(super) struct VaultResponse {
    pub(super) status: StatusCode,
    pub(super) data: Value,
    pub(super) warnings: Vec<String>,
}

impl VaultResponse {
    pub(super) fn ok(data: Value) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            warnings: Vec::new(),
        }
    }
}

impl IntoResponse for VaultResponse {
    fn into_response(self) -> Response {
        let warnings = if self.warnings.is_empty() {
            Value::Null
        } else {
            json!(self.warnings)
        };
        let body = json!({
            "request_id": request_id(),
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": self.data,
            "wrap_info": null,
            "warnings": warnings,
            "auth": null,
            "mount_type": "transit",
        });
        (self.status, Json(body)).into_response()
    }
}

/// A random version-4 UUID, as Vault gives every request.
fn request_id() -> String {
    let mut b = [0u8; 16];
    crate::crypto::rng::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A failed Transit call: Vault's status and `{"errors": [message]}`.
#[derive(Debug)]
pub(crate) struct TransitError {
    pub(super) status: StatusCode,
    pub(super) message: Option<String>,
}

impl TransitError {
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: Some(message.into()),
        }
    }

    /// Vault answers a read of a key that does not exist with 404 and no message.
    pub(super) fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: None,
        }
    }

    pub(super) fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: Some(message.into()),
        }
    }
}

/// Rekey's errors reach here through the same `tonic::Status` the gRPC API answers with, and
/// become the status Vault gives the same failure: a client mistake is a 400 (Vault answers an
/// unknown key that way too), a caller without the right token a 403.
impl From<tonic::Status> for TransitError {
    fn from(status: tonic::Status) -> Self {
        let reason = status
            .metadata()
            .get(REASON_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(ErrorReason::from_str_name);
        let http = match status.code() {
            Code::InvalidArgument
            | Code::OutOfRange
            | Code::NotFound
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::Aborted => StatusCode::BAD_REQUEST,
            Code::Unauthenticated | Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted if reason == Some(ErrorReason::TooLarge) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match http {
            // Vault's words first: Transit clients look for them.
            StatusCode::FORBIDDEN => format!("permission denied: {}", status.message()),
            _ => status.message().to_owned(),
        };
        Self {
            status: http,
            message: Some(message),
        }
    }
}

macro_rules! from_domain {
    ($($t:ty),*) => {$(
        impl From<$t> for TransitError {
            fn from(err: $t) -> Self {
                TransitError::from(tonic::Status::from(err))
            }
        }
    )*};
}
from_domain!(
    crate::admin::AdminError,
    crate::keystore::KeyError,
    crate::auth::AuthError
);

impl IntoResponse for TransitError {
    fn into_response(self) -> Response {
        let errors: Vec<String> = self.message.into_iter().collect();
        (self.status, Json(json!({ "errors": errors }))).into_response()
    }
}

pub(super) type TransitResult = Result<VaultResponse, TransitError>;

/// The request body as bytes; one over the size limit is refused in Vault's error shape.
pub(super) struct RawBody(pub(super) axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawBody {
    type Rejection = TransitError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => TransitError::with_status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is larger than this server accepts (keystore.max_batch_bytes, in base64); split the batch",
                ),
                status => TransitError::with_status(status, e.body_text()),
            })
    }
}

/// The request's JSON body as `T`; an empty body is `{}` (Vault clients send none for a
/// rotate). Any content type is read as JSON, as Vault does.
pub(super) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, TransitError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| TransitError::bad_request(format!("invalid JSON body: {e}")))
}

/// A base64 field of a request (`plaintext`, `input`, `associated_data`), decoded into a
/// buffer wiped on drop.
pub(super) fn base64_field(
    field: &str,
    value: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, TransitError> {
    match value {
        None | Some("") => Ok(Zeroizing::new(Vec::new())),
        Some(text) => B64.decode(text).map(Zeroizing::new).map_err(|_| {
            TransitError::bad_request(format!(
                "failed to base64-decode {field}: it must be standard base64 (padded)"
            ))
        }),
    }
}

/// Vault's `batch_input` items, or the one item the top-level fields make.
pub(super) fn items<T: Clone>(single: T, batch: Option<Vec<T>>) -> (Vec<T>, bool) {
    match batch {
        Some(items) => (items, true),
        None => (vec![single], false),
    }
}

/// The fields of a Vault item Rekey does not do (key derivation, convergent encryption,
/// choosing a version to encrypt with): refused by name rather than ignored.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct Unsupported {
    #[serde(default)]
    pub(super) context: Option<String>,
    #[serde(default)]
    pub(super) nonce: Option<String>,
    #[serde(default)]
    pub(super) key_version: Option<u32>,
}

impl Unsupported {
    pub(super) fn check(&self) -> Result<(), TransitError> {
        if self.context.as_deref().is_some_and(|c| !c.is_empty()) {
            return Err(TransitError::bad_request(
                "context is not supported: Rekey keys are not derived (Vault's derived keys cannot be imported)",
            ));
        }
        if self.nonce.as_deref().is_some_and(|n| !n.is_empty()) {
            return Err(TransitError::bad_request(
                "nonce is not supported: Rekey does not do convergent encryption; every value gets a random nonce",
            ));
        }
        if self.key_version.is_some_and(|v| v != 0) {
            return Err(TransitError::bad_request(
                "key_version is not supported: Rekey always uses the key's latest (primary) version",
            ));
        }
        Ok(())
    }
}
