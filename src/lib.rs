//! Rekey: a key-management service. Applications encrypt, decrypt and sign over gRPC; Rekey
//! keeps every key versioned, rotates keys and migrates stored ciphertexts.
//!
//! Layout: `crypto` (the `rekey-envelope` crate: ciphertext format, AEAD, HMAC, key wrapping)
//! and `keystore` (versions, lifecycle, the key storage contract) know nothing of transport;
//! `rotation`, `auth` and `audit` own their storage contracts too; `sql` implements every
//! contract for SQLite and PostgreSQL; `api` adapts the domains to gRPC; `server` assembles
//! everything; `cli` is the `rekey` command line.
//!
//! # The public face
//!
//! Everything is crate-private unless something outside this library uses it, so that the
//! compiler reports dead code (`unreachable_pub` keeps it that way). A module is public only
//! to carry the few items its users name, at the path they already write:
//!
//! - [`proto`]: the generated gRPC types and clients, the service's public API;
//! - [`crypto`]: the envelope crate, shared with clients;
//! - [`cli`]: what the `rekey` binary runs;
//! - [`server`], [`config`], [`clock`]: starting a server in process (integration tests, the
//!   benchmark harness);
//! - [`keystore`], [`rotation`]: the key manager and the scheduler a running server hands out,
//!   and the migration target settings (integration tests, the benchmark harness);
//! - [`tls`], [`telemetry`]: TLS settings and log set-up (integration tests, the benchmark
//!   harness);
//! - [`storage`]: the storage contracts and their SQL stores, for the storage behaviour suites.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod admin;
mod api;
mod audit;
mod auth;
pub mod cli;
pub mod clock;
pub mod config;
mod excerpt;
/// The envelope crate under its historical name, so the server keeps saying `crate::crypto`.
pub use rekey_envelope as crypto;
pub mod keystore;
pub use rekey_proto as proto;

pub mod rotation;
pub mod server;
mod sql;
mod sql_bounds;
mod sql_connect;
pub mod storage;
mod storage_error;
pub mod telemetry;
pub mod tls;
