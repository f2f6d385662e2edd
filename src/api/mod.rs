//! Transport adapters over the domain: the gRPC services (KeyService, RotationService,
//! AdminService) and the HTTP admin API (`http`), with the proto conversions, the error to
//! status mapping and the authorization guard they share.

pub(crate) mod admin_grpc;
pub(crate) mod batch;
pub(crate) mod convert;
pub(crate) mod grpc;
mod guard;
pub(crate) mod http;
pub(crate) mod report_proto;
pub(crate) mod rotation_grpc;
mod status;
pub(crate) mod stream_rpcs;
