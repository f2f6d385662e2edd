//! Transport adapters: gRPC services (and, later, HTTP admin routes) over the key manager.

pub mod admin_grpc;
pub mod convert;
pub mod grpc;
mod guard;
pub mod http;
pub mod rotation_grpc;
mod status;
