//! The keystore database: opened (migrations applied) on SQLite or PostgreSQL, and seen
//! through each of its storage traits.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::audit::AuditStore;
use crate::auth::store::TokenStore;
use crate::config::{Backend, Config};
use crate::keystore::store::KeyStore;
use crate::rotation::events::EventStore;
use crate::sql::{PostgresStore, SqliteStore};

/// The keystore database seen through each of its storage traits.
pub(super) struct Stores {
    pub(super) keys: Arc<dyn KeyStore>,
    pub(super) events: Arc<dyn EventStore>,
    pub(super) tokens: Arc<dyn TokenStore>,
    pub(super) audit: Arc<dyn AuditStore>,
}

impl Stores {
    fn over<S: KeyStore + EventStore + TokenStore + AuditStore + 'static>(store: Arc<S>) -> Self {
        Self {
            keys: store.clone(),
            events: store.clone(),
            tokens: store.clone(),
            audit: store,
        }
    }
}

/// Opens the keystore database of `backend`, creating (SQLite) and migrating it as needed.
pub(super) async fn open_store(config: &Config, backend: &Backend) -> anyhow::Result<Stores> {
    match backend {
        Backend::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::keystore::root::local::create_private_dir(dir)?;
            }
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open SQLite keystore {}", path.display()))?;
            Ok(Stores::over(Arc::new(store)))
        }
        Backend::Postgres => {
            let url = config
                .database
                .url
                .as_ref()
                .context("database.url is required for PostgreSQL")?;
            let store =
                PostgresStore::connect(url.expose_secret(), config.database.max_connections)
                    .await
                    .context("cannot open the PostgreSQL keystore")?;
            Ok(Stores::over(Arc::new(store)))
        }
    }
}
