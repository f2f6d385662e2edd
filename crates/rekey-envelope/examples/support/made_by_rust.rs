//! Writes tests/vectors/envelope-made-by-rust.json: envelope values sealed by this crate's
//! production path (`DataKey::seal`, random salt and nonce) under the worked example's data
//! key, for the Python and TypeScript clients' suites to open. The Python and TypeScript
//! clients write their own `envelope-made-by-*.json` the same way, and every suite (this
//! crate's `tests/envelope_vectors.rs` included) opens all of them. Random salts make each
//! run's output different: regenerate only when adding cases, never to make a test pass.

use rekey_envelope::*;
use serde::Serialize;

/// The worked example's inputs (tests/vectors/envelope-v1.json, first case): its wrapped key
/// is a genuine kind-0x01 ciphertext of this data key under `customer.pii` version 7.
const KEY_NAME: &str = "customer.pii";
const KEY_VERSION: u32 = 7;
const KEY_MATERIAL: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const WRAP_NONCE: &str = "b0b1b2b3b4b5b6b7b8b9babb";
const DATA_KEY: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";

#[derive(Serialize)]
struct MadeBy {
    made_by: &'static str,
    key_name: &'static str,
    key_version: u32,
    data_key_hex: &'static str,
    wrapped_key_hex: String,
    cases: Vec<MadeCase>,
}

#[derive(Serialize)]
struct MadeCase {
    description: &'static str,
    plaintext_hex: String,
    associated_data_hex: String,
    value_hex: String,
}

pub fn print() {
    let material = KeyMaterial::from_slice(&hex::decode(KEY_MATERIAL).unwrap()).unwrap();
    let data_key = hex::decode(DATA_KEY).unwrap();
    let wrapped = EncryptionKey::new(&material)
        .encrypt_with_nonce(
            KEY_NAME,
            KEY_VERSION,
            hex::decode(WRAP_NONCE).unwrap().try_into().unwrap(),
            &data_key,
            DATA_KEY_AAD,
        )
        .unwrap();
    let key = DataKey::new(KEY_NAME, KEY_VERSION, &data_key, wrapped.clone()).unwrap();
    let kib: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let binary_ad: Vec<u8> = (0..=255u8).rev().collect();
    let inputs: [(&'static str, &[u8], &[u8]); 5] = [
        (
            "short text with a row id as associated data",
            b"hello from rust",
            b"row=42",
        ),
        ("empty plaintext, empty associated data", b"", b""),
        ("empty plaintext with associated data", b"", b"tenant=7"),
        ("1 KiB of binary plaintext", &kib, b"row=1024"),
        (
            "binary associated data (every byte value)",
            b"\x00\x01\xfe\xff",
            &binary_ad,
        ),
    ];
    let cases = inputs
        .iter()
        .map(|(description, plaintext, ad)| MadeCase {
            description,
            plaintext_hex: hex::encode(plaintext),
            associated_data_hex: hex::encode(ad),
            value_hex: hex::encode(key.seal(plaintext, ad).unwrap()),
        })
        .collect();
    let file = MadeBy {
        made_by: "rust",
        key_name: KEY_NAME,
        key_version: KEY_VERSION,
        data_key_hex: DATA_KEY,
        wrapped_key_hex: hex::encode(&wrapped),
        cases,
    };
    println!("{}", serde_json::to_string_pretty(&file).unwrap());
}
