//! The key manager: the root key that unwraps the stored key versions, and the managed keys
//! (declared in the config, or imported from legacy environment keys) seeded on first start;
//! and the keystore with its root key opened offline, for maintenance.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Backend, Config};
use crate::keystore::store::KeyStore;
use crate::keystore::{
    root::{open_provider, KeystoreLocation, RootKeyProvider},
    seed::ensure_keys,
    KeyError, KeyManager,
};

use super::stores::{open_store, Stores};

/// Opens the key manager over the keystore's keys and makes sure every managed key exists.
pub(super) async fn open_key_manager(
    config: &Config,
    root: Arc<dyn RootKeyProvider>,
    stores: &Stores,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<KeyManager>> {
    tracing::info!(
        provider = root.describe(),
        check_value = root.check_value(),
        "root key loaded"
    );
    let settings = config.key_manager_settings();
    let manager = Arc::new(
        KeyManager::open(Arc::clone(&stores.keys), root, clock, settings)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the keystore: {}", internal_detail(e)))?,
    );
    ensure_keys(&manager, &config.seed_keys(), &config.legacy_keys.0).await?;
    Ok(manager)
}

/// The root key of `config`: in a token, configured locally, or the embedded keystore's
/// development key. Opened before the keystore database, so a token that refuses (wrong PIN,
/// missing key) leaves the data folder as it was.
pub(super) async fn root_key(
    config: &Config,
    backend: &Backend,
) -> anyhow::Result<Arc<dyn RootKeyProvider>> {
    let keystore_exists = match backend {
        Backend::Sqlite(path) => path.exists(),
        Backend::Postgres => true,
    };
    let location = match backend {
        Backend::Postgres => KeystoreLocation::Shared,
        Backend::Sqlite(_) => KeystoreLocation::Embedded {
            data_dir: &config.data_dir,
            keystore_exists,
        },
    };
    open_provider(&config.keystore.root_key_settings()?, location).await
}

/// Startup errors are shown to the operator in full (they never contain key material).
pub(super) fn internal_detail(err: KeyError) -> String {
    match err {
        KeyError::Internal(detail) | KeyError::Unavailable(detail) => detail,
        other => other.to_string(),
    }
}

/// Opens the keystore database of `config` (applying migrations) and the root key that opens
/// it, for offline maintenance such as root-key rotation.
/// Public for the root-key rotation tests, which read the keystore before and after.
pub async fn open_keystore(
    config: &Config,
) -> anyhow::Result<(Arc<dyn KeyStore>, Arc<dyn RootKeyProvider>)> {
    let backend = config.backend()?;
    if let Backend::Sqlite(path) = &backend {
        if !path.exists() {
            anyhow::bail!("no keystore at {}", path.display());
        }
    }
    let root = root_key(config, &backend).await?;
    let stores = open_store(config, &backend).await?;
    Ok((stores.keys, root))
}
