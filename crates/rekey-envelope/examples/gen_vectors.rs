//! Generates tests/vectors/ciphertext-v1.json and, with the argument
//! `envelope`, tests/vectors/envelope-v1.json. Run from the repository root:
//! `cargo run -p rekey-envelope --example gen_vectors > tests/vectors/ciphertext-v1.json`
//! `cargo run -p rekey-envelope --example gen_vectors envelope > tests/vectors/envelope-v1.json`
//! `cargo run -p rekey-envelope --example gen_vectors stream > tests/vectors/stream-v1.json`
//! Nonces and salts are fixed so the output is reproducible.
//! With `made-by-rust` it writes tests/vectors/envelope-made-by-rust.json, values from the
//! production seal path (random salts) for the other languages' clients to open.

#[path = "support/envelope_vectors.rs"]
mod envelope_vectors;
#[path = "support/made_by_rust.rs"]
mod made_by_rust;
#[path = "support/stream_vectors.rs"]
mod stream_vectors;

use rekey_envelope::*;
use serde::Serialize;

/// One entry of the vector file; `type` comes first in the JSON.
#[derive(Serialize)]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        key_material_hex: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        associated_data_hex: Option<String>,
        expected_error: String,
    },
}
type Value = Case;

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "c0ffee00deadbeef0123456789abcdeffedcba98765432100f1e2d3c4b5a6978";

fn material(hex_key: &str) -> KeyMaterial {
    KeyMaterial::from_slice(&hex::decode(hex_key).unwrap()).unwrap()
}

fn ct_case(
    description: &str,
    key_hex: &str,
    name: &str,
    version: u32,
    nonce_hex: &str,
    plaintext: &[u8],
    ad: &[u8],
) -> (Value, Vec<u8>) {
    let key = EncryptionKey::new(&material(key_hex));
    let nonce: [u8; 12] = hex::decode(nonce_hex).unwrap().try_into().unwrap();
    let ct = key
        .encrypt_with_nonce(name, version, nonce, plaintext, ad)
        .unwrap();
    let value = Case::Ciphertext {
        description: description.into(),
        key_material_hex: key_hex.into(),
        key_name: name.into(),
        key_version: version,
        nonce_hex: nonce_hex.into(),
        plaintext_hex: hex::encode(plaintext),
        associated_data_hex: hex::encode(ad),
        ciphertext_hex: hex::encode(&ct),
    };
    (value, ct)
}

fn sig_case(
    description: &str,
    key_hex: &str,
    name: &str,
    version: u32,
    msg: &[u8],
) -> (Value, Vec<u8>) {
    let sig = SigningKey::new(&material(key_hex))
        .sign(name, version, msg)
        .unwrap();
    let value = Case::Signature {
        description: description.into(),
        key_material_hex: key_hex.into(),
        key_name: name.into(),
        key_version: version,
        message_hex: hex::encode(msg),
        signature_hex: hex::encode(&sig),
    };
    (value, sig)
}

fn invalid(description: &str, bytes: &[u8], expected_error: &str) -> Value {
    Case::Invalid {
        description: description.into(),
        ciphertext_hex: hex::encode(bytes),
        key_material_hex: None,
        associated_data_hex: None,
        expected_error: expected_error.into(),
    }
}

fn invalid_with_key(
    description: &str,
    bytes: &[u8],
    key_hex: &str,
    ad: &[u8],
    expected_error: &str,
) -> Value {
    Case::Invalid {
        description: description.into(),
        ciphertext_hex: hex::encode(bytes),
        key_material_hex: Some(key_hex.into()),
        associated_data_hex: Some(hex::encode(ad)),
        expected_error: expected_error.into(),
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("envelope") => return envelope_vectors::print(),
        Some("made-by-rust") => return made_by_rust::print(),
        Some("stream") => return stream_vectors::print(),
        _ => {}
    }
    let mut cases = Vec::new();
    let long_name = "a".repeat(48) + "0123456789_.-XYZ";
    assert_eq!(long_name.len(), 64);
    let hundred: Vec<u8> = (0u8..100).collect();
    let ad_300: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();

    let (c, worked) = ct_case(
        "worked example from docs/ciphertext-format.md: short plaintext with associated data",
        KEY_A,
        "customer.pii",
        7,
        "a0a1a2a3a4a5a6a7a8a9aaab",
        b"hello world",
        b"tenant=42",
    );
    cases.push(c);
    cases.push(
        ct_case(
            "empty plaintext, no associated data, shortest possible name",
            KEY_A,
            "k",
            1,
            "000000000000000000000000",
            b"",
            b"",
        )
        .0,
    );
    cases.push(
        ct_case(
            "one-byte plaintext",
            KEY_A,
            "k",
            1,
            "0102030405060708090a0b0c",
            b"\x00",
            b"",
        )
        .0,
    );
    cases.push(
        ct_case(
            "plaintext of exactly one AES block",
            KEY_B,
            "orders",
            2,
            "ffffffffffffffffffffffff",
            b"0123456789abcdef",
            b"",
        )
        .0,
    );
    cases.push(
        ct_case(
            "64-byte key name and the largest version",
            KEY_B,
            &long_name,
            u32::MAX,
            "112233445566778899aabbcc",
            &hundred,
            b"",
        )
        .0,
    );
    cases.push(
        ct_case(
            "associated data longer than 256 bytes",
            KEY_B,
            "payments-2024.eu_west",
            300,
            "0c0b0a090807060504030201",
            b"card=4111111111111111;exp=12/30",
            &ad_300,
        )
        .0,
    );

    let (s, sig) = sig_case(
        "worked signature example",
        KEY_A,
        "webhooks",
        3,
        b"{\"event\":\"paid\"}",
    );
    cases.push(s);
    cases.push(sig_case("empty message", KEY_A, "k", 1, b"").0);
    cases.push(
        sig_case(
            "64-byte key name and the largest version",
            KEY_B,
            &long_name,
            u32::MAX,
            &hundred,
        )
        .0,
    );

    // Invalid values, mostly derived from the worked ciphertext.
    let mut v = Vec::new();
    v.push(invalid("empty value", b"", "Empty"));
    v.push(invalid(
        "base64 text instead of bytes",
        b"UksBAQxjdXN0b21lci5waWk=",
        "BadMagic",
    ));
    let mut m = worked.clone();
    m[2] = 2;
    v.push(invalid("format version 2", &m, "UnsupportedFormatVersion"));
    let mut m = worked.clone();
    m[3] = 5;
    v.push(invalid("kind 0x05", &m, "UnknownKind"));
    let mut m = worked.clone();
    m[4] = 0;
    v.push(invalid("key-name length 0", &m, "InvalidKeyName"));
    let mut m = worked.clone();
    m[4] = 65;
    v.push(invalid("key-name length 65", &m, "InvalidKeyName"));
    let mut m = worked.clone();
    m[5 + 8] = b'/';
    v.push(invalid("key name contains '/'", &m, "InvalidKeyName"));
    let mut m = worked.clone();
    m[17..21].copy_from_slice(&[0, 0, 0, 0]);
    v.push(invalid("key version 0", &m, "ZeroKeyVersion"));
    v.push(invalid(
        "truncated inside the key name",
        &worked[..10],
        "TooShort",
    ));
    v.push(invalid(
        "48 bytes: shorter than header (33) + tag (16) for a 12-byte key name",
        &worked[..21 + 12 + 15],
        "TooShort",
    ));
    let mut m = sig.clone();
    m.push(0);
    v.push(invalid(
        "signature with a trailing byte",
        &m,
        "TrailingBytes",
    ));
    v.push(invalid(
        "signature missing its last byte",
        &sig[..sig.len() - 1],
        "TooShort",
    ));
    v.push(invalid_with_key(
        "last byte removed: still structurally valid, fails authentication",
        &worked[..worked.len() - 1],
        KEY_A,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    let last = m.len() - 1;
    m[last] ^= 1;
    v.push(invalid_with_key(
        "last tag bit flipped",
        &m,
        KEY_A,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[21 + 12] ^= 0x80;
    v.push(invalid_with_key(
        "ciphertext bit flipped",
        &m,
        KEY_A,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[20] = 8;
    v.push(invalid_with_key(
        "key version changed from 7 to 8 (header is authenticated)",
        &m,
        KEY_A,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[9] = b'P';
    v.push(invalid_with_key(
        "key name changed (header is authenticated)",
        &m,
        KEY_A,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    v.push(invalid_with_key(
        "different associated data",
        &worked,
        KEY_A,
        b"tenant=43",
        "AuthenticationFailed",
    ));
    v.push(invalid_with_key(
        "no associated data",
        &worked,
        KEY_A,
        b"",
        "AuthenticationFailed",
    ));
    v.push(invalid_with_key(
        "wrong key",
        &worked,
        KEY_B,
        b"tenant=42",
        "AuthenticationFailed",
    ));
    v.push(invalid_with_key(
        "signature given to decrypt",
        &sig,
        KEY_A,
        b"",
        "WrongKind",
    ));
    cases.extend(v);

    println!("{}", serde_json::to_string_pretty(&cases).unwrap());
}
