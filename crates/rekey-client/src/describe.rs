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
