//! The runbook's HTTP admin routes (`/api/v1/key-rotation/...`), JSON over the same engine,
//! authentication and error mapping as the gRPC API; the OpenAPI document generated from them
//! (`/api/v1/openapi.json`) and its reference page (`/docs`).

mod audit_routes;
mod console;
mod docs;
mod dto;
mod error;
mod extract;
mod fallbacks;
mod openapi;
mod router;
mod routes;
mod trace;
mod transit;

pub(crate) use router::{router, ServedAt};
pub(crate) use routes::HttpState;
pub(crate) use transit::TransitSettings;
