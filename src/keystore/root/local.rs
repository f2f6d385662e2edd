//! The `local` provider: a root key held in memory, from `REKEY_MASTER_KEY`, a key file, or —
//! only on the embedded SQLite default with a brand-new keystore — a development key generated
//! into the data folder. Wrapping is `RootKey`'s AES-256-GCM under a key derived from it.

use std::{fs, io::Write, path::Path, path::PathBuf};

use anyhow::{bail, Context};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tracing::warn;

use super::{RootKeyError, RootKeyProvider, WrappedVersion};
use crate::crypto::{KeyMaterial, RootKey};

#[async_trait]
impl RootKeyProvider for RootKey {
    fn describe(&self) -> &str {
        "local"
    }

    fn check_value(&self) -> &str {
        RootKey::check_value(self)
    }

    async fn wrap(
        &self,
        key_name: &str,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<Vec<u8>, RootKeyError> {
        Ok(RootKey::wrap(self, key_name, version, material))
    }

    async fn unwrap_many(
        &self,
        items: Vec<WrappedVersion>,
    ) -> Vec<Result<KeyMaterial, RootKeyError>> {
        // About a microsecond each: no reason to leave the async thread.
        items
            .iter()
            .map(|item| {
                RootKey::unwrap(self, &item.key_name, item.version, &item.wrapped)
                    .map_err(|_| RootKeyError::WrappedKeyInvalid)
            })
            .collect()
    }

    async fn check(&self) -> Result<(), RootKeyError> {
        Ok(())
    }
}

/// File name of the generated development root key inside the data folder.
pub(crate) const DEV_ROOT_KEY_FILE: &str = "master.key";

/// The configured root key, if any: the key itself (`REKEY_MASTER_KEY`) or a file holding it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RootKeySource {
    /// Base64 of 32 bytes; wins over `master_key_file`.
    pub(crate) master_key: Option<SecretString>,
    pub(crate) master_key_file: Option<PathBuf>,
}

/// Where the keystore is, for what happens when no root key is configured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeystoreLocation<'a> {
    /// A database shared by replicas (PostgreSQL): a root key must be configured.
    Shared,
    /// The embedded SQLite keystore whose data folder may hold a development key.
    /// `keystore_exists` tells whether the database file was there before this start: a
    /// development key is generated only for a new keystore, so that a lost key file is
    /// reported instead of silently replaced.
    Embedded {
        data_dir: &'a Path,
        keystore_exists: bool,
    },
}

/// Loads the configured root key, or (embedded keystore only) the development key.
pub(crate) fn load_root_key(
    source: &RootKeySource,
    location: KeystoreLocation<'_>,
) -> anyhow::Result<RootKey> {
    if let Some(text) = &source.master_key {
        return RootKey::from_base64(text.expose_secret()).context("REKEY_MASTER_KEY");
    }
    if let Some(path) = &source.master_key_file {
        return read_key_file(path);
    }
    match location {
        KeystoreLocation::Shared => bail!(
            "a PostgreSQL keystore needs a root key shared by every replica: set REKEY_MASTER_KEY \
             (base64 of 32 random bytes, e.g. from `openssl rand -base64 32`) or master_key_file"
        ),
        KeystoreLocation::Embedded {
            data_dir,
            keystore_exists,
        } => {
            let path = data_dir.join(DEV_ROOT_KEY_FILE);
            if path.exists() {
                return read_key_file(&path);
            }
            if keystore_exists {
                bail!(
                    "the keystore in {} exists but its root key file {} is missing: restore it \
                     from backup or set REKEY_MASTER_KEY",
                    data_dir.display(),
                    path.display()
                );
            }
            generate_dev_key(&path)
        }
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<RootKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read root key file {}", path.display()))?;
    RootKey::from_base64(&text).with_context(|| format!("root key file {}", path.display()))
}

fn generate_dev_key(path: &Path) -> anyhow::Result<RootKey> {
    use base64::Engine as _;
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let material = KeyMaterial::generate();
    let encoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(material.expose()),
    );
    write_private_file(path, encoded.as_bytes())?;
    warn!(
        path = %path.display(),
        "GENERATED A DEVELOPMENT ROOT KEY. It sits next to the keystore it protects, which is only \
         fit for development. In production set REKEY_MASTER_KEY or master_key_file from a secret \
         store, and back the key up: without it no stored key can be unwrapped."
    );
    Ok(RootKey::new(material))
}

/// The data folder holds the keystore (and, in development, the root key): owner-only.
pub(crate) fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create data folder {}", dir.display()))
}

/// Creates `path` (which must not exist) readable by the owner only, and writes `secret` and a
/// newline to it, durably.
pub(crate) fn write_private_file(path: &Path, secret: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(data_dir: &Path, keystore_exists: bool) -> KeystoreLocation<'_> {
        KeystoreLocation::Embedded {
            data_dir,
            keystore_exists,
        }
    }

    #[test]
    fn a_new_embedded_keystore_gets_a_private_generated_key_reused_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let none = RootKeySource::default();
        let first = load_root_key(&none, embedded(dir.path(), false)).unwrap();
        let path = dir.path().join(DEV_ROOT_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let again = load_root_key(&none, embedded(dir.path(), true)).unwrap();
        assert_eq!(first.check_value(), again.check_value());
    }

    #[test]
    fn a_missing_key_file_for_an_existing_keystore_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_root_key(&RootKeySource::default(), embedded(dir.path(), true)).unwrap_err();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
        assert!(!dir.path().join(DEV_ROOT_KEY_FILE).exists());
    }

    #[test]
    fn postgres_requires_an_explicit_key() {
        let err = load_root_key(&RootKeySource::default(), KeystoreLocation::Shared).unwrap_err();
        assert!(err.to_string().contains("REKEY_MASTER_KEY"), "{err}");
    }

    #[test]
    fn a_configured_key_is_used_wherever_the_keystore_is() {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let source = RootKeySource {
            master_key: Some(SecretString::from(encoded)),
            master_key_file: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let shared = load_root_key(&source, KeystoreLocation::Shared).unwrap();
        let embedded = load_root_key(&source, embedded(dir.path(), false)).unwrap();
        assert_eq!(shared.check_value(), embedded.check_value());
        assert!(!dir.path().join(DEV_ROOT_KEY_FILE).exists());
    }
}
