//! Authentication of gRPC requests: every rpc of KeyService, RotationService and AdminService
//! starts here.

use tonic::{Request, Status};

use crate::auth::{Authenticator, Operation, Principal};

/// The caller of `request`, or the status to answer with.
pub async fn authenticate<T>(
    auth: &Authenticator,
    request: &Request<T>,
) -> Result<Principal, Status> {
    let header = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let peer = request.remote_addr().map(|a| a.ip());
    Ok(auth.authenticate(header, peer).await?)
}

/// The caller, who must hold an admin token.
pub async fn admin<T>(auth: &Authenticator, request: &Request<T>) -> Result<Principal, Status> {
    let principal = authenticate(auth, request).await?;
    Authenticator::require_admin(&principal)?;
    Ok(principal)
}

/// Checks that `principal` may perform `operation` with `key`.
pub fn scope(principal: &Principal, operation: Operation, key: &str) -> Result<(), Status> {
    Ok(Authenticator::require(principal, operation, key)?)
}

/// The key a ciphertext or signature names, for the scope check. A value that is not a Rekey
/// envelope is let through: the rpc itself answers it with INVALID_ARGUMENT.
pub fn key_of(envelope: &[u8]) -> Option<&str> {
    crate::crypto::peek_key_version(envelope)
        .ok()
        .map(|(_, key, _)| key)
}
