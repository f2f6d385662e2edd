//! Authentication of API callers: every rpc of KeyService, RotationService and AdminService
//! and every HTTP admin route starts here, so both transports answer "who is this caller" the
//! same way.

use std::net::IpAddr;
use std::sync::Arc;

use tonic::{Request, Status};

use crate::auth::{AuthError, Authenticator, Operation, Principal};

/// What a caller presents, whatever the transport.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Credentials<'a> {
    /// The subject of the client certificate the TLS handshake verified, if any.
    pub(super) certificate: Option<&'a str>,
    /// The `authorization` header (or metadata) value, if any.
    pub(super) authorization: Option<&'a str>,
    pub(super) peer: Option<IpAddr>,
}

/// The caller: a verified client certificate listed in [[tls.clients]] is enough; otherwise
/// (no certificate, or one not listed) the bearer token decides. `operation` names the call in
/// the audit record of a refusal.
pub(super) async fn caller(
    auth: &Authenticator,
    credentials: Credentials<'_>,
    operation: &str,
) -> Result<Arc<Principal>, AuthError> {
    if let Some(principal) = credentials
        .certificate
        .and_then(|subject| auth.by_certificate(subject))
    {
        return Ok(principal);
    }
    auth.authenticate(credentials.authorization, credentials.peer, operation)
        .await
}

/// The caller, who must be an admin (token or certificate).
pub(super) async fn admin_caller(
    auth: &Authenticator,
    credentials: Credentials<'_>,
    operation: &str,
) -> Result<Arc<Principal>, AuthError> {
    let principal = caller(auth, credentials, operation).await?;
    auth.admin_only(&principal, operation).await?;
    Ok(principal)
}

/// The caller of a gRPC `request`, or the status to answer with.
pub(super) async fn authenticate<T>(
    auth: &Authenticator,
    request: &Request<T>,
    rpc: &str,
) -> Result<Arc<Principal>, Status> {
    let subject = certificate_subject(request);
    Ok(caller(auth, grpc_credentials(request, subject.as_deref()), rpc).await?)
}

/// The caller of a gRPC `request`, who must be an admin.
pub(super) async fn admin<T>(
    auth: &Authenticator,
    request: &Request<T>,
    rpc: &str,
) -> Result<Arc<Principal>, Status> {
    let subject = certificate_subject(request);
    Ok(admin_caller(auth, grpc_credentials(request, subject.as_deref()), rpc).await?)
}

/// The subject of the client certificate the TLS handshake verified for `request`.
fn certificate_subject<T>(request: &Request<T>) -> Option<String> {
    request
        .peer_certs()
        .and_then(|certs| certs.first().and_then(|c| crate::tls::subject_of(c)))
}

fn grpc_credentials<'a, T>(request: &'a Request<T>, subject: Option<&'a str>) -> Credentials<'a> {
    Credentials {
        certificate: subject,
        authorization: request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        peer: request.remote_addr().map(|a| a.ip()),
    }
}

/// Checks that `principal` may perform `operation` with `key`.
pub(super) async fn scope(
    auth: &Authenticator,
    principal: &Principal,
    operation: Operation,
    key: &str,
) -> Result<(), Status> {
    Ok(auth.within_scope(principal, operation, key).await?)
}

/// The key a ciphertext or signature names, for the scope check. A value that is not a Rekey
/// envelope is let through: the rpc itself answers it with INVALID_ARGUMENT.
pub(super) fn key_of(envelope: &[u8]) -> Option<&str> {
    crate::crypto::peek_key_version(envelope)
        .ok()
        .map(|(_, key, _)| key)
}
