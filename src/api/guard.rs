//! Authentication of gRPC requests: every rpc of KeyService, RotationService and AdminService
//! starts here.

use std::sync::Arc;

use tonic::{Request, Status};

use crate::auth::{Authenticator, Operation, Principal};

/// The caller of `request`, or the status to answer with. `rpc` names the call in the audit
/// record of a refusal.
pub(super) async fn authenticate<T>(
    auth: &Authenticator,
    request: &Request<T>,
    rpc: &str,
) -> Result<Arc<Principal>, Status> {
    // A client certificate verified by the TLS handshake and listed in [[tls.clients]].
    if let Some(principal) = request
        .peer_certs()
        .and_then(|certs| certs.first().and_then(|c| crate::tls::subject_of(c)))
        .and_then(|subject| auth.by_certificate(&subject))
    {
        return Ok(principal);
    }
    let header = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let peer = request.remote_addr().map(|a| a.ip());
    Ok(auth.authenticate(header, peer, rpc).await?)
}

/// The caller, who must hold an admin token.
pub(super) async fn admin<T>(
    auth: &Authenticator,
    request: &Request<T>,
    rpc: &str,
) -> Result<Arc<Principal>, Status> {
    let principal = authenticate(auth, request, rpc).await?;
    auth.admin_only(&principal, rpc).await?;
    Ok(principal)
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
