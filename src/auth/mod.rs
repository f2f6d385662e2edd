//! Authentication and authorization of API callers: bearer tokens (admin or scoped client),
//! a per-address limit on failed attempts, and the first admin token's bootstrap.

mod authenticator;
mod limiter;
mod principal;
pub mod store;
pub mod token;

pub use authenticator::{AuthError, Authenticator, CreatedToken};
pub use principal::{Operation, Principal, Role};
