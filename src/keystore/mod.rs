//! Keys, their versions and lifecycle: the storage contract ([`store::KeyStore`] and its
//! records), the in-memory keyring, and the key manager that performs every key operation.
//! The SQL that implements the contract is in `crate::sql`.

pub mod error;
pub mod keyring;
pub mod lifecycle;
pub mod manager;
pub mod root_rotation;
pub mod root_source;
pub mod seed;
pub mod store;

pub use error::{KeyError, KeyResult};
pub use manager::{KeyManager, Settings};
