//! Rekey's cryptography and wire format: key material, the root key that
//! wraps stored key versions, and the version-1 ciphertext/signature envelope.
//! The server uses it as `rekey::crypto`; the future Rust client will share
//! this crate, so both produce and accept the same envelopes from one code.
//!
//! Pure on purpose: no I/O, no async runtime, no network, no database, no
//! logging; OS randomness only through [`rng::fill`]. Nothing here logs or
//! formats key bytes: secret-holding types have redacting `Debug` impls and
//! wipe their memory on drop. The wire format is specified in
//! `docs/ciphertext-format.md` and pinned by `tests/vectors/ciphertext-v1.json`
//! and `tests/vectors/envelope-v1.json` (envelope ciphertexts: values a client
//! seals locally under a [`DataKey`] from the server's `GenerateDataKey`) and
//! `tests/vectors/stream-v1.json` (stream ciphertexts: payloads of any length in
//! authenticated segments, [`StreamSealer`] / [`StreamOpener`] / [`StreamLayout`]).
#![forbid(unsafe_code)]

mod aead;
mod data_key;
mod envelope_value;
mod error;
mod format;
mod format_error;
mod kdf;
mod mac;
mod material;
pub mod rng;
mod root;
mod short_hkdf;
mod stream;
mod stream_seal;
mod vault;

pub use aead::EncryptionKey;
pub use data_key::DataKey;
pub use envelope_value::{
    envelope_len, replace_wrapped_key, rewrapped_head, wrapped_key_len, EnvelopeCiphertext,
    DATA_KEY_AAD, SALT_LEN,
};
pub use error::CryptoError;
pub use format::{
    peek_key_version, validate_key_name, Envelope, Kind, FORMAT_VERSION, MAC_LEN, MAGIC,
    MAX_KEY_NAME_LEN, NONCE_LEN, TAG_LEN,
};
pub use format_error::FormatError;
pub use mac::SigningKey;
pub use material::{KeyMaterial, KEY_LEN};
pub use root::{wrap_aad as root_wrap_aad, RootKey, WRAPPED_LEN as ROOT_WRAPPED_LEN};
pub use stream::{
    stream_header_len, stream_header_len_from_prefix, stream_len, validate_segment_size,
    StreamHeader, StreamLayout, DEFAULT_SEGMENT_SIZE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE,
};
pub use stream_seal::{StreamOpener, StreamSealer};
pub use vault::{
    format_vault_value, is_vault_form, parse_vault_value, split_vault_prefix, VaultFormError,
    VaultValue, VAULT_PREFIX,
};

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    /// The service shares these across tasks and threads.
    #[test]
    fn key_types_are_send_and_sync() {
        assert_send_sync::<KeyMaterial>();
        assert_send_sync::<RootKey>();
        assert_send_sync::<EncryptionKey>();
        assert_send_sync::<SigningKey>();
        assert_send_sync::<Envelope<'static>>();
        assert_send_sync::<CryptoError>();
        assert_send_sync::<DataKey>();
        assert_send_sync::<EnvelopeCiphertext<'static>>();
        assert_send_sync::<StreamSealer>();
        assert_send_sync::<StreamOpener>();
    }

    #[test]
    fn constants_match_the_format() {
        assert_eq!(MAGIC, [0x52, 0x4B]);
        assert_eq!(FORMAT_VERSION, 1);
        assert_eq!(KEY_LEN, 32);
        assert_eq!((NONCE_LEN, TAG_LEN, MAC_LEN), (12, 16, 32));
        assert_eq!(MAX_KEY_NAME_LEN, 64);
        assert_eq!(SALT_LEN, 16);
        assert_eq!(wrapped_key_len(1), 70);
        assert_eq!(envelope_len(12, 0), 146);
    }
}
