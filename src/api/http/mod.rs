//! The runbook's HTTP admin routes (`/api/v1/key-rotation/...`), JSON over the same engine,
//! authentication and error mapping as the gRPC API, plus the OpenAPI document for them.

mod dto;
mod error;
mod routes;
mod trace;

pub(crate) use routes::{router, HttpState};

/// The OpenAPI 3 description of the routes, served at `/api/v1/openapi.json`.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");
