//! Values that embed a wrapped data key on the server side: envelope ciphertexts (kind
//! 0x03) and stream ciphertexts (kind 0x04), both sealed by clients (or `EncryptStream`)
//! under a data key. Decrypt unwraps the embedded data key and opens the payload; Rewrap
//! and the migration worker rewrap only the embedded data key, copying the payload (or
//! every segment) unchanged: its authentication does not cover the wrapping key version
//! (docs/ciphertext-format.md). The two kinds share the header and wrapped-key layout.
//!
//! A child module of `manager`, so it uses the same version lookup (and state checks:
//! Retired is refused) and purpose checks as every other operation.

use zeroize::Zeroizing;

use super::{encryption_key, KeyManager};
use crate::crypto::{
    peek_key_version, replace_wrapped_key, rewrapped_head, DataKey, Envelope, EnvelopeCiphertext,
    Kind, StreamHeader, DATA_KEY_AAD,
};
use crate::keystore::manager::Decrypted;
use crate::keystore::{KeyError, KeyResult};

/// Whether a value's header says envelope or stream ciphertext; anything unreadable is
/// left to the ordinary path, which reports it.
pub(super) fn embeds_data_key(value: &[u8]) -> bool {
    matches!(
        peek_key_version(value),
        Ok((Kind::EnvelopeCiphertext | Kind::StreamCiphertext, _, _))
    )
}

/// What the server needs of a value that embeds a data key, from either kind's parser.
struct Embedded<'a> {
    key_name: &'a str,
    key_version: u32,
    wrapped_key: &'a [u8],
    stream: bool,
}

fn parse_embedded(value: &[u8]) -> KeyResult<Embedded<'_>> {
    if matches!(peek_key_version(value), Ok((Kind::StreamCiphertext, _, _))) {
        let header = StreamHeader::parse(value).map_err(KeyError::Malformed)?;
        return Ok(Embedded {
            key_name: header.key_name(),
            key_version: header.key_version(),
            wrapped_key: header.wrapped_key(),
            stream: true,
        });
    }
    let parsed = EnvelopeCiphertext::parse(value).map_err(KeyError::Malformed)?;
    Ok(Embedded {
        key_name: parsed.key_name(),
        key_version: parsed.key_version(),
        wrapped_key: parsed.wrapped_key(),
        stream: false,
    })
}

impl KeyManager {
    /// Unwraps the data key a value embeds with the key version it names (refused like any
    /// Decrypt when that version is retired or the key is not for encryption).
    async fn unwrap_data_key(&self, parsed: &Embedded<'_>) -> KeyResult<Zeroizing<Vec<u8>>> {
        let (key, version) = self
            .usable_version(parsed.key_name, parsed.key_version)
            .await?;
        let cipher = encryption_key(&key, &version, "decrypt")?;
        // The parsers checked the wrapped key is a kind-0x01 ciphertext of the same name and
        // version, so this cannot fail; a tampered wrapped key fails authentication below.
        let wrapped = Envelope::parse(parsed.wrapped_key).map_err(KeyError::Malformed)?;
        Ok(cipher.decrypt(&wrapped, DATA_KEY_AAD)?)
    }

    /// The data key a value embeds, unwrapped, ready to open it (or, for `DecryptStream`,
    /// its segments one by one).
    pub(crate) async fn embedded_data_key(&self, value: &[u8]) -> KeyResult<DataKey> {
        let parsed = parse_embedded(value)?;
        let plaintext_key = self.unwrap_data_key(&parsed).await?;
        Ok(DataKey::new(
            parsed.key_name,
            parsed.key_version,
            &plaintext_key,
            parsed.wrapped_key.to_vec(),
        )?)
    }

    /// Decrypt of an envelope or stream ciphertext held whole: unwrap its data key, open its
    /// payload (every segment of a stream) with the caller's associated data.
    pub(super) async fn decrypt_envelope_value(
        &self,
        value: &[u8],
        aad: &[u8],
    ) -> KeyResult<Decrypted> {
        let parsed = parse_embedded(value)?;
        let data_key = self.embedded_data_key(value).await?;
        let plaintext = if parsed.stream {
            data_key.open_stream(value, aad)?
        } else {
            let envelope = EnvelopeCiphertext::parse(value).map_err(KeyError::Malformed)?;
            data_key.open_parsed(&envelope, aad)?
        };
        Ok(Decrypted {
            plaintext,
            key_name: parsed.key_name.to_owned(),
            key_version: parsed.key_version,
        })
    }

    /// Rewrap (or migration) of an envelope or stream ciphertext to `to_version` of its key (the
    /// primary when `None`): the embedded data key is unwrapped and wrapped again, the
    /// header's version rewritten, and everything after the wrapped key copied unchanged. The
    /// payload is neither needed nor checked (the caller's associated data plays no part);
    /// the embedded data key is authenticated by its own unwrapping. Returns the new value
    /// and the version it names.
    pub(super) async fn rewrap_envelope_value(
        &self,
        value: &[u8],
        to_version: Option<u32>,
    ) -> KeyResult<(Vec<u8>, u32)> {
        let (new_wrapped, version) = self.rewrap_embedded_key(value, to_version).await?;
        let rewrapped = replace_wrapped_key(value, &new_wrapped).map_err(KeyError::Malformed)?;
        Ok((rewrapped, version))
    }

    /// What a migration writes over the head of a stored envelope or stream ciphertext to move
    /// it to `version` of its key: its bytes up to the end of the embedded wrapped data key,
    /// rewrapped (see [`rewrapped_head`]); exactly as long as `value`'s own head, and the rest
    /// of the value stays as it is. Its cost does not depend on the payload's size.
    ///
    /// # Errors
    /// As for [`KeyManager::reencrypt_to`]; `Malformed` for a value that embeds no data key.
    pub async fn rewrap_head_to(&self, value: &[u8], version: u32) -> KeyResult<Vec<u8>> {
        let (new_wrapped, _) = self.rewrap_embedded_key(value, Some(version)).await?;
        rewrapped_head(value, &new_wrapped).map_err(KeyError::Malformed)
    }

    /// The data key `value` embeds, wrapped again under `to_version` of its key (the primary
    /// when `None`), and that version.
    async fn rewrap_embedded_key(
        &self,
        value: &[u8],
        to_version: Option<u32>,
    ) -> KeyResult<(Vec<u8>, u32)> {
        let parsed = parse_embedded(value)?;
        let plaintext_key = self.unwrap_data_key(&parsed).await?;
        let name = parsed.key_name;
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
        Ok((new_wrapped, target.version))
    }
}
