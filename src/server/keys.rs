//! The key manager: the root key that unwraps the stored key versions, and the managed keys
//! (declared in the config, or imported from legacy environment keys) seeded on first start.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Backend, Config};
use crate::keystore::{
    root_source::load_root_key, seed::ensure_keys, KeyError, KeyManager, Settings,
};

use super::stores::Stores;

/// Opens the key manager over the keystore's keys and makes sure every managed key exists.
pub(super) async fn open_key_manager(
    config: &Config,
    backend: &Backend,
    stores: &Stores,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<KeyManager>> {
    let root = load_root_key(config, backend, stores.existed)?;
    let settings = Settings {
        max_plaintext_bytes: config.max_plaintext_bytes,
        min_rotation_interval_secs: config.min_rotation_interval_secs,
        rotation_enabled: config.rotation_enabled,
    };
    let manager = Arc::new(
        KeyManager::open(Arc::clone(&stores.keys), root, clock, settings)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the keystore: {}", internal_detail(e)))?,
    );
    ensure_keys(&manager, &config.managed_keys(), &config.legacy_keys).await?;
    Ok(manager)
}

/// Startup errors are shown to the operator in full (they never contain key material).
pub(super) fn internal_detail(err: KeyError) -> String {
    match err {
        KeyError::Internal(detail) | KeyError::Unavailable(detail) => detail,
        other => other.to_string(),
    }
}
