//! Rekey: a key-management service. Applications encrypt, decrypt and sign over gRPC; Rekey
//! keeps every key versioned, rotates keys and migrates stored ciphertexts.
//!
//! Layout: `crypto` (the `rekey-envelope` crate: ciphertext format, AEAD, HMAC, key wrapping)
//! and `keystore` (versions, lifecycle, the key storage contract) know nothing of transport;
//! `rotation`, `auth` and `audit` own their storage contracts too; `sql` implements every
//! contract for SQLite and PostgreSQL; `api` adapts the domains to gRPC; `server` assembles
//! everything; `cli` is the `rekey` command line.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
/// The envelope crate under its historical name, so the server keeps saying `crate::crypto`.
pub use rekey_envelope as crypto;
pub mod keystore;
pub mod proto;
pub mod reports;
pub mod rotation;
pub mod server;
pub mod sql;
mod sql_bounds;
pub mod storage_error;
pub mod telemetry;
pub mod tls;
