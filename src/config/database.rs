//! `[database]`: where the keystore lives.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;

/// `[database]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` selects PostgreSQL; unset means SQLite in `data_dir`.
    pub url: Option<SecretString>,
    /// Connections per process to the keystore database.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
        }
    }
}

/// Where the keystore lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite(PathBuf),
    Postgres,
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl DatabaseConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        self.backend(Path::new("."))?;
        Ok(())
    }

    /// The storage backend selected by `url`; without one, SQLite in `data_dir`.
    pub(crate) fn backend(&self, data_dir: &Path) -> Result<Backend, ConfigError> {
        let Some(url) = &self.url else {
            return Ok(Backend::Sqlite(data_dir.join("rekey.db")));
        };
        let url = url.expose_secret();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Backend::Sqlite(PathBuf::from(path)))
        } else {
            Err(ConfigError::Invalid(
                "database.url must start with postgres://, postgresql:// or sqlite://".into(),
            ))
        }
    }
}
