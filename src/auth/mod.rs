//! Authentication and authorization of API callers: bearer tokens (admin or scoped client),
//! a per-address limit on failed attempts, and the first admin token's bootstrap.

mod authenticator;
mod limiter;
mod principal;
pub(crate) mod store;
pub(crate) mod token;

pub(crate) use authenticator::{AuthError, Authenticator};
pub(crate) use principal::{Operation, Principal, Role};
