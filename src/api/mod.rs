//! Transport adapters: gRPC services (and, later, HTTP admin routes) over the key manager.

pub(crate) mod admin_grpc;
pub(crate) mod convert;
pub(crate) mod grpc;
mod guard;
pub(crate) mod http;
pub(crate) mod rotation_grpc;
mod status;
