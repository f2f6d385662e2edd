//! Values in Vault Transit's text form, `vault:v<N>:<base64>`: the Transit API's ciphertexts
//! and signatures (the base64 is then a Rekey value, which names its key and version), and
//! the values Vault itself sealed under a key imported from it (`nonce || ciphertext || tag`,
//! naming nothing: the key comes from the caller, the version from the prefix).
//!
//! A child module of `manager`, so Vault's values go through the same version lookup (a
//! retired version is refused) and purpose checks as every other operation.

use super::{encryption_key, KeyManager};
use crate::crypto::{parse_vault_value, Envelope, VaultValue};
use crate::keystore::manager::Decrypted;
use crate::keystore::{KeyError, KeyResult};

/// What a value in Vault's text form holds.
pub(crate) enum TransitValue {
    /// A Rekey value (ciphertext, envelope or stream ciphertext, signature) in Vault's form.
    Rekey(Vec<u8>),
    /// What Vault sealed for version `version` of the key the caller names.
    VaultSealed { version: u32, sealed: Vec<u8> },
}

impl TransitValue {
    /// Splits `text` (`vault:v<N>:<base64>`) for key `key_name`. A Rekey value must be of that
    /// key and of the version its prefix says: anything else was edited or sent to the wrong
    /// key, and is refused before any key is used.
    pub(crate) fn parse(key_name: &str, text: &[u8]) -> KeyResult<TransitValue> {
        let VaultValue { version, bytes } = parse_vault_value(text).map_err(KeyError::VaultForm)?;
        let Ok(envelope) = Envelope::parse(&bytes) else {
            return Ok(TransitValue::VaultSealed {
                version,
                sealed: bytes,
            });
        };
        if envelope.key_name != key_name {
            return Err(KeyError::TransitKeyMismatch {
                named: key_name.to_owned(),
                found: envelope.key_name.to_owned(),
            });
        }
        if envelope.key_version != version {
            return Err(KeyError::TransitVersionMismatch {
                prefix: version,
                found: envelope.key_version,
            });
        }
        Ok(TransitValue::Rekey(bytes))
    }
}

impl TransitValue {
    /// The key a value in Vault's text form names: only Rekey's values name one.
    pub(crate) fn key_named(text: &[u8]) -> KeyResult<String> {
        let VaultValue { bytes, .. } = parse_vault_value(text).map_err(KeyError::VaultForm)?;
        match Envelope::parse(&bytes) {
            Ok(envelope) => Ok(envelope.key_name.to_owned()),
            Err(_) => Err(KeyError::TransitKeyUnnamed),
        }
    }
}

impl KeyManager {
    /// Decrypts a value in Vault's text form for key `key_name`: a Rekey value as Decrypt
    /// does, a value Vault sealed with version `N` of the (imported) key.
    pub(crate) async fn decrypt_transit(
        &self,
        key_name: &str,
        text: &[u8],
        aad: &[u8],
    ) -> KeyResult<Decrypted> {
        match TransitValue::parse(key_name, text)? {
            TransitValue::Rekey(bytes) => self.decrypt(&bytes, aad).await,
            TransitValue::VaultSealed { version, sealed } => {
                self.decrypt_vault_sealed(key_name, version, &sealed, aad)
                    .await
            }
        }
    }

    /// Opens what Vault sealed under version `version` of key `key_name` (imported from
    /// Vault with `rekey import vault-transit`).
    pub(crate) async fn decrypt_vault_sealed(
        &self,
        key_name: &str,
        version: u32,
        sealed: &[u8],
        aad: &[u8],
    ) -> KeyResult<Decrypted> {
        let (key, loaded) = self.usable_version(key_name, version).await?;
        let cipher = encryption_key(&key, &loaded, "decrypt")?;
        let plaintext = cipher.decrypt_vault_sealed(sealed, aad)?;
        Ok(Decrypted {
            plaintext,
            key_name: key_name.to_owned(),
            key_version: version,
        })
    }

    /// Re-encrypts what Vault sealed under `from` as a Rekey ciphertext of version `to` of the
    /// same key, keeping `aad` (the migration worker's path for stored Vault values). The
    /// plaintext never leaves this call.
    pub(crate) async fn reencrypt_vault_sealed_to(
        &self,
        key_name: &str,
        from: u32,
        sealed: &[u8],
        aad: &[u8],
        to: u32,
    ) -> KeyResult<Vec<u8>> {
        let decrypted = self
            .decrypt_vault_sealed(key_name, from, sealed, aad)
            .await?;
        let (key, target) = self.usable_version(key_name, to).await?;
        let cipher = encryption_key(&key, &target, "encrypt")?;
        Ok(cipher.encrypt(key_name, to, &decrypted.plaintext, aad)?)
    }
}
