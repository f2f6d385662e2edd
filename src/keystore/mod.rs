//! Keys, their versions and lifecycle: the storage contract ([`store::KeyStore`] and its
//! records), the in-memory keyring, the key manager that performs every key operation, and
//! the root of trust that wraps every stored version (`root`: the provider interface, the
//! `local` and `pkcs11` providers, root-key rotation).
//! The SQL that implements the contract is in `crate::sql`.

pub(crate) mod error;
pub(crate) mod keyring;
pub(crate) mod lifecycle;
pub(crate) mod manager;
pub mod root;
pub(crate) mod seed;
pub(crate) mod store;
pub(crate) mod vault_backup;
mod version_use;

pub use error::{KeyError, KeyResult};
pub(crate) use manager::Settings;
pub use manager::{Decrypted, KeyManager};
