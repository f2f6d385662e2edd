//! HashiCorp Vault Transit's text form of a value, `vault:v<N>:<base64>`, and the bytes Vault
//! itself puts after it for an `aes256-gcm96` key: `nonce (12) || ciphertext || tag (16)`,
//! sealed with the version's key as it is (no derivation) and the caller's associated data as
//! the only AAD (Vault's `keysutil` policy, `SymmetricEncrypt`).
//!
//! Rekey's Transit API puts its own values in the same text form (the base64 is then a Rekey
//! envelope, which names its key and version); a value Vault made names neither, so opening one
//! needs the key and version from elsewhere (the route's key name, the prefix's version).

use aes_gcm::aead::array::Array;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::AeadInOut;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::aead::EncryptionKey;
use super::error::CryptoError;
use super::format::{NONCE_LEN, TAG_LEN};

/// What every value in Vault's text form starts with.
pub const VAULT_PREFIX: &str = "vault:v";

/// A value in Vault's text form, split: the version its prefix names and the decoded bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultValue {
    /// The `N` of `vault:v<N>:`.
    pub version: u32,
    /// The bytes the base64 decodes to: a Rekey envelope, or what Vault sealed.
    pub bytes: Vec<u8>,
}

impl core::fmt::Debug for VaultValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VaultValue")
            .field("version", &self.version)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Why a text is not a value in Vault's form. The messages name the part that is wrong, never
/// the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VaultFormError {
    #[error("a Transit value starts with \"vault:v<version>:\"")]
    NoPrefix,
    #[error("the version in a Transit value's \"vault:v<version>:\" prefix must be a whole number from 1")]
    BadVersion,
    #[error("the part of a Transit value after \"vault:v<version>:\" is not valid base64")]
    BadBase64,
}

/// Whether `text` starts like a value in Vault's form (cheap: no decoding).
#[must_use]
pub fn is_vault_form(text: &[u8]) -> bool {
    text.starts_with(VAULT_PREFIX.as_bytes())
}

/// Splits `vault:v<N>:<base64>` into its version and decoded bytes.
///
/// # Errors
/// [`VaultFormError`] naming the part that is malformed.
pub fn parse_vault_value(text: &[u8]) -> Result<VaultValue, VaultFormError> {
    let (version, payload) = split_vault_prefix(text)?;
    let bytes = STANDARD
        .decode(payload)
        .map_err(|_| VaultFormError::BadBase64)?;
    Ok(VaultValue { version, bytes })
}

/// The version of `vault:v<N>:` and what follows the prefix, undecoded.
///
/// # Errors
/// [`VaultFormError::NoPrefix`] or [`VaultFormError::BadVersion`].
pub fn split_vault_prefix(text: &[u8]) -> Result<(u32, &[u8]), VaultFormError> {
    let rest = text
        .strip_prefix(VAULT_PREFIX.as_bytes())
        .ok_or(VaultFormError::NoPrefix)?;
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .ok_or(VaultFormError::NoPrefix)?;
    let (digits, payload) = rest.split_at(colon);
    // Digits only: u32's parser would also take a leading '+'.
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(VaultFormError::BadVersion);
    }
    let version: u32 = core::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|&v| v >= 1)
        .ok_or(VaultFormError::BadVersion)?;
    Ok((version, &payload[1..]))
}

/// `vault:v<version>:` followed by the base64 of `bytes`.
#[must_use]
pub fn format_vault_value(version: u32, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(VAULT_PREFIX.len() + 11 + bytes.len().div_ceil(3) * 4);
    out.push_str(VAULT_PREFIX);
    out.push_str(&version.to_string());
    out.push(':');
    STANDARD.encode_string(bytes, &mut out);
    out
}

impl EncryptionKey {
    /// Opens what Vault Transit sealed under this key (`nonce || ciphertext || tag`, the
    /// caller's `associated_data` as the AAD): a value of a key imported from Vault.
    ///
    /// # Errors
    /// [`CryptoError::AuthenticationFailed`] when the tag does not verify (modified bytes, a
    /// wrong key or version, other associated data) or the value is too short to hold a nonce
    /// and a tag.
    pub fn decrypt_vault_sealed(
        &self,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let body_len = sealed
            .len()
            .checked_sub(NONCE_LEN + TAG_LEN)
            .ok_or(CryptoError::AuthenticationFailed)?;
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(body_len);
        let nonce =
            <&Array<u8, _>>::try_from(nonce).map_err(|_| CryptoError::AuthenticationFailed)?;
        let tag = <&Array<u8, _>>::try_from(tag).map_err(|_| CryptoError::AuthenticationFailed)?;
        let mut plaintext = Zeroizing::new(vec![0u8; body_len]);
        let buf = InOutBuf::new(ciphertext, plaintext.as_mut_slice())
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        self.cipher()
            .decrypt_inout_detached(nonce, associated_data, buf, tag)
            .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::material::KeyMaterial;
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::Aes256Gcm;

    #[test]
    fn text_form_round_trips() {
        for (version, bytes) in [
            (1, &b"RK\x01abc"[..]),
            (42, b""),
            (u32::MAX, &[0u8; 33][..]),
        ] {
            let text = format_vault_value(version, bytes);
            assert!(text.starts_with(&format!("vault:v{version}:")));
            let parsed = parse_vault_value(text.as_bytes()).expect("parses");
            assert_eq!(parsed.version, version);
            assert_eq!(parsed.bytes, bytes);
        }
    }

    #[test]
    fn malformed_text_is_named() {
        use VaultFormError::*;
        for (text, error) in [
            ("", NoPrefix),
            ("vault:", NoPrefix),
            ("vault:v1", NoPrefix),
            ("Vault:v1:AAAA", NoPrefix),
            ("vault:v:AAAA", BadVersion),
            ("vault:v0:AAAA", BadVersion),
            ("vault:v+1:AAAA", BadVersion),
            ("vault:v-1:AAAA", BadVersion),
            ("vault:v4294967296:AAAA", BadVersion),
            ("vault:v1x:AAAA", BadVersion),
            ("vault:v1:AA=A", BadBase64),
            ("vault:v1:not base64!", BadBase64),
        ] {
            assert_eq!(parse_vault_value(text.as_bytes()), Err(error), "{text:?}");
        }
    }

    #[test]
    fn opens_what_plain_aes_gcm_sealed_and_nothing_else() {
        let material = KeyMaterial::generate();
        let reference = Aes256Gcm::new(material.expose().into());
        let nonce = [7u8; NONCE_LEN];
        let sealed_body = reference
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: b"card 4111",
                    aad: b"row-1",
                },
            )
            .expect("seal");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&sealed_body);
        let key = EncryptionKey::new(&material);
        assert_eq!(
            key.decrypt_vault_sealed(&sealed, b"row-1")
                .expect("opens")
                .as_slice(),
            b"card 4111"
        );
        assert_eq!(
            key.decrypt_vault_sealed(&sealed, b"row-2"),
            Err(CryptoError::AuthenticationFailed)
        );
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(
            key.decrypt_vault_sealed(&tampered, b"row-1"),
            Err(CryptoError::AuthenticationFailed)
        );
        for short in [0, 1, NONCE_LEN, NONCE_LEN + TAG_LEN - 1] {
            assert_eq!(
                key.decrypt_vault_sealed(&sealed[..short], b""),
                Err(CryptoError::AuthenticationFailed)
            );
        }
        let other = EncryptionKey::new(&KeyMaterial::generate());
        assert_eq!(
            other.decrypt_vault_sealed(&sealed, b"row-1"),
            Err(CryptoError::AuthenticationFailed)
        );
    }
}
