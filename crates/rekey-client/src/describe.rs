//! Reading what a Rekey value is without a network call: its kind, key name and key version
//! are in its header (docs/ciphertext-format.md), in clear, by design.

use rekey_envelope::{Envelope, EnvelopeCiphertext, FormatError, Kind};

/// What [`describe`] read from a value's header. Authenticity is not checked: a forged
/// header reads as well as a genuine one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// Ciphertext (server Encrypt/Rewrap/GenerateDataKey), signature, or envelope ciphertext
    /// (made locally by [`EnvelopeCipher`](crate::EnvelopeCipher)).
    pub kind: Kind,
    /// The key that made the value.
    pub key_name: String,
    /// The version of that key; for an envelope ciphertext, the version that wraps its data key.
    pub key_version: u32,
}

/// Reads kind, key name and key version of any Rekey value, checking its whole structure.
///
/// # Errors
/// The [`FormatError`] of the first structural problem (not a Rekey value, truncated, ...).
pub fn describe(value: &[u8]) -> Result<ValueInfo, FormatError> {
    let envelope = Envelope::parse(value)?;
    if envelope.kind == Kind::EnvelopeCiphertext {
        // The inner layout (wrapped key, salt, nonce, tag) is checked here, not by `Envelope`.
        EnvelopeCiphertext::parse(value)?;
    }
    Ok(ValueInfo {
        kind: envelope.kind,
        key_name: envelope.key_name.to_owned(),
        key_version: envelope.key_version,
    })
}

#[cfg(test)]
mod tests {
    use rekey_envelope::{DataKey, EncryptionKey, KeyMaterial, SigningKey, DATA_KEY_AAD};

    use super::*;

    #[test]
    fn every_kind_is_read_offline() {
        let key = EncryptionKey::new(&KeyMaterial::generate());
        let ct = key.encrypt("ORDERS", 3, b"p", b"").unwrap();
        let info = describe(&ct).unwrap();
        assert_eq!(
            info,
            ValueInfo {
                kind: Kind::Ciphertext,
                key_name: "ORDERS".into(),
                key_version: 3
            }
        );

        let plain = KeyMaterial::generate();
        let wrapped = key
            .encrypt("ORDERS", 3, plain.expose(), DATA_KEY_AAD)
            .unwrap();
        let dk = DataKey::new("ORDERS", 3, plain.expose(), wrapped).unwrap();
        let value = dk.seal(b"row", b"id").unwrap();
        let info = describe(&value).unwrap();
        assert_eq!(
            (info.kind, info.key_name.as_str(), info.key_version),
            (Kind::EnvelopeCiphertext, "ORDERS", 3)
        );

        let signer = SigningKey::new(&KeyMaterial::generate());
        let sig = signer.sign("API", 1, b"m").unwrap();
        assert_eq!(describe(&sig).unwrap().kind, Kind::Signature);
    }

    #[test]
    fn structural_damage_is_a_format_error() {
        assert_eq!(describe(b""), Err(FormatError::Empty));
        assert_eq!(describe(b"hello world"), Err(FormatError::BadMagic));
        let key = EncryptionKey::new(&KeyMaterial::generate());
        let plain = KeyMaterial::generate();
        let wrapped = key
            .encrypt("ORDERS", 1, plain.expose(), DATA_KEY_AAD)
            .unwrap();
        let dk = DataKey::new("ORDERS", 1, plain.expose(), wrapped).unwrap();
        let value = dk.seal(b"row", b"id").unwrap();
        // Cut inside the fixed envelope layout: the inner parse refuses it.
        assert!(describe(&value[..60]).is_err());
    }
}
