//! Rust client for Rekey.
//!
//! - [`Client`]: every rpc of KeyService, RotationService and AdminService as a typed method,
//!   with the bearer token on every call, a timeout per attempt and a deadline per call, and
//!   retries with exponential backoff and full jitter for the rpcs the proto calls safe to
//!   retry (never Rotate, Rollback, CreateToken, forced ScheduleRotation or RollbackEvent).
//! - [`Error`]: a closed enum of what can go wrong, mapped from the documented status codes.
//! - [`EnvelopeCipher`]: local envelope encryption with a cached data key, so thousands of
//!   encryptions cost one GenerateDataKey call and still get a key of their own each.
//! - Streams: [`EnvelopeCipher::encrypt_writer`] / [`EnvelopeCipher::decrypt_reader`]
//!   (tokio `AsyncWrite` / `AsyncRead`), `encrypt_stream`, `decrypt_stream` and
//!   `decrypt_range`: files of any size in constant memory, one data key per stream.
//! - [`Client::encrypt_many`], [`Client::decrypt_many`], [`Client::rewrap_many`]: any number
//!   of items through the batch rpcs, a result per item in input order.
//! - [`describe`]: kind, key name and version of any Rekey value, offline.
//!
//! Secrets (token, data keys, plaintext) never appear in `Debug`, errors or observer events.
//! See README.md in this crate for a guided tour.
#![forbid(unsafe_code)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod batch;
mod builder;
mod client;
mod describe;
mod envelope;
mod error;
mod observer;
mod retry;
mod rpcs;

pub use builder::{ClientBuilder, DEFAULT_ADDR};
pub use client::{CallOptions, Client};
pub use describe::{describe, ValueInfo};
pub use envelope::{
    read_stream_header, CachePolicy, CacheStats, DecryptReader, EncryptWriter, EnvelopeCipher,
    StreamOptions,
};
pub use error::Error;
pub use observer::{CacheEvent, Observer};
pub use rekey_envelope::{FormatError, Kind};
/// The generated request and response messages (`rekey.v1`), as the methods take them.
pub use rekey_proto as proto;
pub use retry::RetryPolicy;
