//! Transport adapters: gRPC services (and, later, HTTP admin routes) over the key manager.

pub mod convert;
pub mod grpc;
pub mod rotation_grpc;
mod status;
