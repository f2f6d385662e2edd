//! Checks this crate against the pinned format-v1 test vectors in the
//! repository's `tests/vectors/ciphertext-v1.json` (kept there, at the top,
//! for clients in other languages to read too).
//!
//! The vectors were cross-checked with an independent implementation
//! (Python `cryptography` AES-GCM and `hmac`), so a failure here means the
//! wire format changed: stored ciphertexts would no longer decrypt. Fix the
//! code, do not regenerate the vectors, unless a new format version is being
//! introduced on purpose.

use rekey_envelope::*;
use serde::Deserialize;

/// One entry of the vector file, discriminated by its `type` field.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Case {
    Ciphertext {
        description: String,
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        nonce_hex: String,
        plaintext_hex: String,
        associated_data_hex: String,
        ciphertext_hex: String,
    },
    Signature {
        description: String,
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        message_hex: String,
        signature_hex: String,
    },
    Invalid {
        description: String,
        ciphertext_hex: String,
        /// Present when the case needs a key to fail (authentication or
        /// kind errors); the value is then parsed and decrypted.
        key_material_hex: Option<String>,
        associated_data_hex: Option<String>,
        expected_error: String,
    },
}

fn load_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/ciphertext-v1.json"
    );
    let text = std::fs::read_to_string(path).expect("vector file is readable");
    serde_json::from_str(&text).expect("vector file is valid JSON of the expected shape")
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("vector hex is valid")
}

fn material(key_hex: &str) -> KeyMaterial {
    KeyMaterial::from_slice(&unhex(key_hex)).expect("vector keys are 32 bytes")
}

/// The variant name of an error, as written in `expected_error`.
fn error_name(err: &CryptoError) -> &'static str {
    match err {
        CryptoError::Format(format) => match format {
            FormatError::Empty => "Empty",
            FormatError::TooShort { .. } => "TooShort",
            FormatError::BadMagic => "BadMagic",
            FormatError::UnsupportedFormatVersion(_) => "UnsupportedFormatVersion",
            FormatError::UnknownKind(_) => "UnknownKind",
            FormatError::InvalidKeyName => "InvalidKeyName",
            FormatError::ZeroKeyVersion => "ZeroKeyVersion",
            FormatError::TrailingBytes { .. } => "TrailingBytes",
            FormatError::NotEnvelopeCiphertext { .. } => "NotEnvelopeCiphertext",
            FormatError::InvalidWrappedKey => "InvalidWrappedKey",
            FormatError::WrappedKeyMismatch => "WrappedKeyMismatch",
            FormatError::NotStreamCiphertext { .. } => "NotStreamCiphertext",
            FormatError::InvalidSegmentSize(_) => "InvalidSegmentSize",
        },
        CryptoError::AuthenticationFailed => "AuthenticationFailed",
        CryptoError::WrongKind { .. } => "WrongKind",
        CryptoError::InvalidKeyLength { .. } => "InvalidKeyLength",
        CryptoError::InvalidRootKey(_) => "InvalidRootKey",
        CryptoError::WrappedKeyInvalid => "WrappedKeyInvalid",
        CryptoError::StreamAuthenticationFailed => "StreamAuthenticationFailed",
        CryptoError::RangeOutOfBounds { .. } => "RangeOutOfBounds",
        CryptoError::StreamMisuse(_) => "StreamMisuse",
    }
}

#[allow(clippy::too_many_arguments)]
fn check_ciphertext(
    description: &str,
    key_material_hex: &str,
    key_name: &str,
    key_version: u32,
    nonce_hex: &str,
    plaintext_hex: &str,
    associated_data_hex: &str,
    ciphertext_hex: &str,
) {
    let key = EncryptionKey::new(&material(key_material_hex));
    let nonce: [u8; NONCE_LEN] = unhex(nonce_hex).try_into().expect("12-byte nonce");
    let plaintext = unhex(plaintext_hex);
    let ad = unhex(associated_data_hex);
    let expected = unhex(ciphertext_hex);

    let produced = key
        .encrypt_with_nonce(key_name, key_version, nonce, &plaintext, &ad)
        .expect("encrypts");
    assert_eq!(hex::encode(&produced), ciphertext_hex, "{description}");

    let envelope = Envelope::parse(&expected).expect("vector parses");
    assert_eq!(envelope.kind, Kind::Ciphertext, "{description}");
    assert_eq!(envelope.key_name, key_name, "{description}");
    assert_eq!(envelope.key_version, key_version, "{description}");
    assert_eq!(
        peek_key_version(&expected),
        Ok((Kind::Ciphertext, key_name, key_version)),
        "{description}"
    );
    let decrypted = key.decrypt(&envelope, &ad).expect("vector decrypts");
    assert_eq!(decrypted.as_slice(), plaintext.as_slice(), "{description}");

    // A fresh random-nonce encryption round-trips too.
    let fresh = key
        .encrypt(key_name, key_version, &plaintext, &ad)
        .expect("encrypts");
    let fresh_env = Envelope::parse(&fresh).expect("parses");
    assert_eq!(
        key.decrypt(&fresh_env, &ad).expect("decrypts").as_slice(),
        plaintext.as_slice()
    );
}

fn check_signature(
    description: &str,
    key_material_hex: &str,
    key_name: &str,
    key_version: u32,
    message_hex: &str,
    signature_hex: &str,
) {
    let key = SigningKey::new(&material(key_material_hex));
    let message = unhex(message_hex);
    let produced = key.sign(key_name, key_version, &message).expect("signs");
    assert_eq!(hex::encode(&produced), signature_hex, "{description}");

    let expected = unhex(signature_hex);
    let envelope = Envelope::parse(&expected).expect("vector parses");
    assert_eq!(envelope.kind, Kind::Signature, "{description}");
    assert_eq!(envelope.key_name, key_name, "{description}");
    assert_eq!(envelope.key_version, key_version, "{description}");
    assert_eq!(key.verify(&envelope, &message), Ok(true), "{description}");
    let mut other = message.clone();
    other.push(0);
    assert_eq!(key.verify(&envelope, &other), Ok(false), "{description}");
}

fn check_invalid(
    description: &str,
    ciphertext_hex: &str,
    key_material_hex: Option<&str>,
    associated_data_hex: Option<&str>,
    expected_error: &str,
) {
    let bytes = unhex(ciphertext_hex);
    let result = Envelope::parse(&bytes)
        .map_err(CryptoError::from)
        .and_then(|envelope| match key_material_hex {
            Some(key_hex) => {
                let key = EncryptionKey::new(&material(key_hex));
                let ad = unhex(associated_data_hex.unwrap_or(""));
                key.decrypt(&envelope, &ad).map(|_| ())
            }
            None => Ok(()),
        });
    match result {
        Ok(()) => panic!("{description}: accepted, expected {expected_error}"),
        Err(err) => assert_eq!(error_name(&err), expected_error, "{description}: {err}"),
    }
}

#[test]
fn all_vectors_pass() {
    let cases = load_cases();
    let (mut ciphertexts, mut signatures, mut invalid) = (0, 0, 0);
    for case in &cases {
        match case {
            Case::Ciphertext {
                description,
                key_material_hex,
                key_name,
                key_version,
                nonce_hex,
                plaintext_hex,
                associated_data_hex,
                ciphertext_hex,
            } => {
                ciphertexts += 1;
                check_ciphertext(
                    description,
                    key_material_hex,
                    key_name,
                    *key_version,
                    nonce_hex,
                    plaintext_hex,
                    associated_data_hex,
                    ciphertext_hex,
                );
            }
            Case::Signature {
                description,
                key_material_hex,
                key_name,
                key_version,
                message_hex,
                signature_hex,
            } => {
                signatures += 1;
                check_signature(
                    description,
                    key_material_hex,
                    key_name,
                    *key_version,
                    message_hex,
                    signature_hex,
                );
            }
            Case::Invalid {
                description,
                ciphertext_hex,
                key_material_hex,
                associated_data_hex,
                expected_error,
            } => {
                invalid += 1;
                check_invalid(
                    description,
                    ciphertext_hex,
                    key_material_hex.as_deref(),
                    associated_data_hex.as_deref(),
                    expected_error,
                );
            }
        }
    }
    // Guard against an accidentally emptied or truncated vector file.
    assert!(ciphertexts >= 6, "only {ciphertexts} ciphertext vectors");
    assert!(signatures >= 3, "only {signatures} signature vectors");
    assert!(invalid >= 20, "only {invalid} invalid vectors");
}

#[test]
fn worked_example_header_matches_the_documentation() {
    // docs/ciphertext-format.md walks through the first vector byte by byte.
    let cases = load_cases();
    let Some(Case::Ciphertext { ciphertext_hex, .. }) = cases.first() else {
        panic!("the first vector is the documented ciphertext example");
    };
    let bytes = unhex(ciphertext_hex);
    let envelope = Envelope::parse(&bytes).expect("parses");
    assert_eq!(
        hex::encode(envelope.header()),
        "524b01010c637573746f6d65722e70696900000007a0a1a2a3a4a5a6a7a8a9aaab"
    );
    assert_eq!(envelope.body().len(), 11 + TAG_LEN);
}

#[test]
fn vector_keys_have_stable_check_values() {
    let key = material("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_eq!(key.check_value(), "0edb94cecb4c3418");
    let root = RootKey::new(key);
    assert_eq!(root.check_value(), "a13b58ffd3194887b72385cd43600c6b");
}
