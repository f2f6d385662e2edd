//! Envelope ciphertexts (kind 0x03, sealed by clients under a data key) on the server side:
//! Decrypt unwraps the embedded data key and opens the payload; Rewrap and the migration
//! worker rewrap only the embedded data key, copying the payload unchanged (its
//! authentication does not cover the wrapping key version; see docs/ciphertext-format.md).
//!
//! A child module of `manager`, so it uses the same version lookup (and state checks:
//! Retired is refused) and purpose checks as every other operation.

use zeroize::Zeroizing;

use super::{encryption_key, KeyManager};
use crate::crypto::{replace_wrapped_key, DataKey, Envelope, EnvelopeCiphertext, DATA_KEY_AAD};
use crate::keystore::manager::Decrypted;
use crate::keystore::{KeyError, KeyResult};

/// Whether a value's header says envelope ciphertext (kind 0x03); anything unreadable is
/// left to the ordinary path, which reports it.
pub(super) fn is_envelope_value(value: &[u8]) -> bool {
    matches!(
        crate::crypto::peek_key_version(value),
        Ok((crate::crypto::Kind::EnvelopeCiphertext, _, _))
    )
}

impl KeyManager {
    /// Unwraps the data key embedded in `parsed` with the key version it names (refused
    /// like any Decrypt when that version is retired or the key is not for encryption).
    async fn unwrap_data_key(
        &self,
        parsed: &EnvelopeCiphertext<'_>,
    ) -> KeyResult<Zeroizing<Vec<u8>>> {
        let (key, version) = self
            .usable_version(parsed.key_name(), parsed.key_version())
            .await?;
        let cipher = encryption_key(&key, &version, "decrypt")?;
        // `parse` checked the wrapped key is a kind-0x01 ciphertext of the same name and
        // version, so this cannot fail; a tampered wrapped key fails authentication below.
        let wrapped = Envelope::parse(parsed.wrapped_key()).map_err(KeyError::Malformed)?;
        Ok(cipher.decrypt(&wrapped, DATA_KEY_AAD)?)
    }

    /// Decrypt of an envelope ciphertext: unwrap its data key, open its payload with the
    /// caller's associated data.
    pub(super) async fn decrypt_envelope_value(
        &self,
        value: &[u8],
        aad: &[u8],
    ) -> KeyResult<Decrypted> {
        let parsed = EnvelopeCiphertext::parse(value).map_err(KeyError::Malformed)?;
        let plaintext_key = self.unwrap_data_key(&parsed).await?;
        let data_key = DataKey::new(
            parsed.key_name(),
            parsed.key_version(),
            &plaintext_key,
            parsed.wrapped_key().to_vec(),
        )?;
        let plaintext = data_key.open_parsed(&parsed, aad)?;
        Ok(Decrypted {
            plaintext,
            key_name: parsed.key_name().to_owned(),
            key_version: parsed.key_version(),
        })
    }

    /// Rewrap (or migration) of an envelope ciphertext to `to_version` of its key (the
    /// primary when `None`): the embedded data key is unwrapped and wrapped again, the
    /// header's version rewritten, and salt, nonce, payload and tag copied unchanged. The
    /// payload is neither needed nor checked (the caller's associated data plays no part);
    /// the embedded data key is authenticated by its own unwrapping. Returns the new value
    /// and the version it names.
    pub(super) async fn rewrap_envelope_value(
        &self,
        value: &[u8],
        to_version: Option<u32>,
    ) -> KeyResult<(Vec<u8>, u32)> {
        let parsed = EnvelopeCiphertext::parse(value).map_err(KeyError::Malformed)?;
        let plaintext_key = self.unwrap_data_key(&parsed).await?;
        let name = parsed.key_name();
        let (key, target) = match to_version {
            Some(version) => self.usable_version(name, version).await?,
            None => {
                let key = self.key(name).await?;
                let primary = key.primary()?.clone();
                (key, primary)
            }
        };
        let cipher = encryption_key(&key, &target, "encrypt")?;
        let new_wrapped = cipher.encrypt(name, target.version, &plaintext_key, DATA_KEY_AAD)?;
        let rewrapped = replace_wrapped_key(value, &new_wrapped).map_err(KeyError::Malformed)?;
        Ok((rewrapped, target.version))
    }
}
