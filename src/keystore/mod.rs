//! Keys, their versions and lifecycle: the storage trait and its backends, the in-memory
//! keyring, and the key manager that performs every key operation.

pub mod error;
pub mod events;
pub mod keyring;
pub mod lifecycle;
pub mod manager;
pub mod postgres;
pub mod root_rotation;
pub mod root_source;
pub mod seed;
mod sql_audit;
mod sql_events;
mod sql_rows;
pub mod sql_store;
mod sql_tokens;
pub mod sqlite;
pub mod store;
pub mod tokens;

pub use error::{KeyError, KeyResult};
pub use manager::{KeyManager, Settings};
