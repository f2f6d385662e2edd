//! Transport adapters: gRPC services (and, later, HTTP admin routes) over the key manager.

pub mod convert;
pub mod grpc;
mod status;
