//! Typed calls on [`Clients`](super::Clients) (and so on a `TestServer`): one line per rpc.
//! `s.encrypt(key, pt)` panics, naming the rpc and the status, when the call fails;
//! `s.try_encrypt(key, pt)` returns the `tonic::Status` for tests of refusals.

mod admin;
mod keys;
mod rotation;

pub use admin::token_request;
pub use keys::enc_req;

/// The reply of a call that may fail.
fn reply<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, tonic::Status> {
    result.map(tonic::Response::into_inner)
}

/// The reply of a call that must succeed.
fn expect_ok<T>(rpc: &str, result: Result<T, tonic::Status>) -> T {
    result.unwrap_or_else(|status| panic!("{rpc} failed: {status:?}"))
}
