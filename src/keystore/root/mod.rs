//! The root of trust: what wraps every stored key version. One interface,
//! [`RootKeyProvider`], and its providers:
//!
//! - `local` ([`local`]): a 32-byte key held in memory, from `REKEY_MASTER_KEY`, a key file or
//!   (embedded keystore only) a generated development key;
//! - `pkcs11` ([`pkcs11`]): an AES-256 key that never leaves a PKCS#11 token; wrapping and
//!   unwrapping happen inside the token.
//!
//! Every provider binds a wrapped version to its key name and version (AES-GCM associated
//! data, [`crate::crypto::root_wrap_aad`]) and names its root key by a check value stored in
//! the keystore, so a server started with another root key refuses to run. A cloud KMS
//! provider (AWS KMS, Azure Key Vault, Google Cloud KMS) is one more module implementing the
//! trait; docs/operations.md says what each would call.

pub(crate) mod local;
pub(crate) mod pkcs11;
pub(crate) mod rotation;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::crypto::KeyMaterial;

pub(crate) use local::{KeystoreLocation, RootKeySource};
pub(crate) use pkcs11::Pkcs11Settings;

/// Why a root-key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootKeyError {
    /// The root key cannot be reached now (token removed, HSM or network down, session
    /// lost). Nothing was written; the same call succeeds once it is back.
    #[error("the root key is unavailable ({provider}): {detail}")]
    Unavailable { provider: String, detail: String },
    /// The wrapped material does not open under this root key: another root key, an altered
    /// row, or a row copied from another key name or version.
    #[error("the wrapped key material does not open with this root key")]
    WrappedKeyInvalid,
}

/// One stored key version's wrapped material, to unwrap.
#[derive(Debug, Clone)]
pub struct WrappedVersion {
    pub key_name: String,
    pub version: u32,
    pub wrapped: Vec<u8>,
}

/// Holds the root key and wraps and unwraps key versions with it.
///
/// Implementations never expose the root key. `wrap` and `unwrap_many` may block on a device
/// or the network: they are async, and an implementation that calls a blocking library runs
/// it off the async threads.
#[async_trait]
pub trait RootKeyProvider: Send + Sync + fmt::Debug {
    /// What holds the root key, for logs and errors: `local`, or `pkcs11 (token "t", key "k")`.
    fn describe(&self) -> &str;

    /// A public value that identifies the root key (never derived reversibly from it). Stored
    /// in the keystore by its first server; a different value means a different root key.
    fn check_value(&self) -> &str;

    /// Wraps one version's material, bound to `key_name` and `version`.
    async fn wrap(
        &self,
        key_name: &str,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<Vec<u8>, RootKeyError>;

    /// Unwraps many versions at once (a start loads every version: a provider behind a device
    /// or the network batches them); one result per item, in order.
    async fn unwrap_many(
        &self,
        items: Vec<WrappedVersion>,
    ) -> Vec<Result<KeyMaterial, RootKeyError>>;

    /// Whether the root key can be used now (for health): `Unavailable` says why not.
    async fn check(&self) -> Result<(), RootKeyError>;
}

/// Unwraps one version.
pub async fn unwrap_one(
    root: &dyn RootKeyProvider,
    key_name: &str,
    version: u32,
    wrapped: &[u8],
) -> Result<KeyMaterial, RootKeyError> {
    let item = WrappedVersion {
        key_name: key_name.to_owned(),
        version,
        wrapped: wrapped.to_vec(),
    };
    root.unwrap_many(vec![item])
        .await
        .pop()
        .unwrap_or(Err(RootKeyError::WrappedKeyInvalid))
}

/// Which provider holds the root key, as the configuration names it.
#[derive(Debug, Clone)]
pub(crate) enum RootKeySettings {
    Local(RootKeySource),
    Pkcs11(Pkcs11Settings),
}

/// Opens the configured provider: loads the local key, or connects to the token, logs in and
/// finds the key. Any failure is one line naming its cause.
pub(crate) async fn open_provider(
    settings: &RootKeySettings,
    location: KeystoreLocation<'_>,
) -> anyhow::Result<Arc<dyn RootKeyProvider>> {
    match settings {
        RootKeySettings::Local(source) => Ok(Arc::new(local::load_root_key(source, location)?)),
        RootKeySettings::Pkcs11(settings) => {
            let settings = settings.clone();
            let provider = tokio::task::spawn_blocking(move || pkcs11::Pkcs11Root::open(&settings))
                .await
                .map_err(|e| anyhow::anyhow!("opening the PKCS#11 token failed: {e}"))??;
            Ok(Arc::new(provider))
        }
    }
}
