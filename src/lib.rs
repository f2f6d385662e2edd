//! Rekey: a key-management service. Applications encrypt, decrypt and sign over gRPC; Rekey
//! keeps every key versioned, rotates keys and migrates stored ciphertexts.
//!
//! Layout: `crypto` (the `rekey-envelope` crate: ciphertext format, AEAD, HMAC, key wrapping)
//! and `keystore` (versions, lifecycle, storage backends) know nothing of transport; `api`
//! adapts them to gRPC; `server` assembles everything; `cli` is the `rekey` command line.
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
pub mod telemetry;
pub mod tls;
