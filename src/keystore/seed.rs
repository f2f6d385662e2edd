//! First-start provisioning: makes sure every configured key exists (the runbook's five plus
//! any declared in config), importing the runbook's legacy environment keys as version 1.

use std::collections::HashMap;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use tracing::info;

use crate::crypto::KeyMaterial;
use crate::keystore::manager::KeyManager;
use crate::keystore::store::NewKey;

/// Creates missing keys and applies configured policies to existing ones. `legacy` holds the
/// values of the legacy key variables by key name (`TOKEN_ENCRYPTION` for
/// `TOKEN_ENCRYPTION_KEY`).
pub(crate) async fn ensure_keys(
    manager: &KeyManager,
    keys: &[NewKey],
    legacy: &HashMap<String, SecretString>,
) -> anyhow::Result<()> {
    for key in keys {
        let legacy_value = legacy.get(&key.name);
        let existing = manager.store().get_key(&key.name).await?;
        match existing {
            Some(record) => {
                if record.purpose != key.purpose {
                    bail!(
                        "key {} is stored as {} but configured as {}: a key's purpose cannot change; \
                         declare a new key name instead",
                        key.name,
                        record.purpose.as_str(),
                        key.purpose.as_str()
                    );
                }
                if record.policy != key.policy {
                    manager.store().update_policy(&key.name, key.policy).await?;
                    info!(key = %key.name, "rotation policy updated from config");
                }
                if legacy_value.is_some() {
                    info!(key = %key.name, "{}_KEY is set but the key already has versions; the variable is ignored", key.name);
                }
            }
            None => {
                let material = legacy_value
                    .map(|v| parse_legacy_key(v.expose_secret()))
                    .transpose()
                    .with_context(|| format!("{}_KEY", key.name))?;
                let imported = material.is_some();
                if manager.create_key_if_absent(key, material).await? {
                    if imported {
                        info!(key = %key.name, "key created with version 1 imported from {}_KEY", key.name);
                    } else {
                        info!(key = %key.name, "key created with a new random version 1");
                    }
                }
            }
        }
    }
    manager.refresh_all().await?;
    Ok(())
}

/// Reads a legacy key as the runbook specifies it: 32 raw characters, or hex or base64 of 32
/// bytes. The error never repeats the value.
pub(crate) fn parse_legacy_key(value: &str) -> anyhow::Result<KeyMaterial> {
    use base64::Engine as _;
    let trimmed = value.trim();
    if trimmed.len() == 64 {
        if let Ok(bytes) = hex::decode(trimmed) {
            return Ok(KeyMaterial::from_slice(&bytes)?);
        }
    }
    if trimmed.len() == 43 || trimmed.len() == 44 {
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ] {
            if let Ok(bytes) = engine.decode(trimmed) {
                if bytes.len() == 32 {
                    return Ok(KeyMaterial::from_slice(&bytes)?);
                }
            }
        }
    }
    if value.len() == 32 {
        return Ok(KeyMaterial::from_slice(value.as_bytes())?);
    }
    bail!(
        "must be 32 characters, or 64 hex digits, or base64 of 32 bytes (the value has {} characters)",
        value.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_keys_in_every_accepted_spelling() {
        let raw = "0123456789abcdefghijklmnopqrstuv";
        assert_eq!(parse_legacy_key(raw).unwrap().expose(), raw.as_bytes());
        let bytes = [7u8; 32];
        assert_eq!(
            parse_legacy_key(&hex::encode(bytes)).unwrap().expose(),
            &bytes
        );
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(parse_legacy_key(&b64).unwrap().expose(), &bytes);
        assert_eq!(
            parse_legacy_key(b64.trim_end_matches('='))
                .unwrap()
                .expose(),
            &bytes
        );
    }

    #[test]
    fn a_wrong_length_is_refused_without_echoing_the_value() {
        let err = parse_legacy_key("too-short-secret")
            .unwrap_err()
            .to_string();
        assert!(err.contains("16 characters"), "{err}");
        assert!(!err.contains("too-short-secret"), "{err}");
    }
}
