//! Checks this crate against the pinned envelope-ciphertext (kind 0x03)
//! vectors in the repository's `tests/vectors/envelope-v1.json`, which
//! `tests/vectors/check_envelope_vectors.py` also checks from the spec alone.
//! A failure means the format changed and stored values would no longer
//! open: fix the code, do not regenerate the vectors.

use rekey_envelope::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Case {
    Envelope {
        description: String,
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        wrapping_nonce_hex: String,
        data_key_hex: String,
        wrapped_key_hex: String,
        salt_hex: String,
        nonce_hex: String,
        plaintext_hex: String,
        associated_data_hex: String,
        value_hex: String,
        rewrapped_from_hex: Option<String>,
    },
    Invalid {
        description: String,
        value_hex: String,
        key_material_hex: Option<String>,
        associated_data_hex: Option<String>,
        expected_error: String,
    },
}

fn load_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/envelope-v1.json"
    );
    let text = std::fs::read_to_string(path).expect("vector file is readable");
    serde_json::from_str(&text).expect("vector file is valid JSON of the expected shape")
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("vector hex is valid")
}

fn server_key(key_hex: &str) -> EncryptionKey {
    EncryptionKey::new(&KeyMaterial::from_slice(&unhex(key_hex)).expect("32 bytes"))
}

/// Opens `value` the way the server (or a client without a cached key)
/// does: parse, unwrap the embedded data key, open the payload.
fn open_as_server(value: &[u8], key_hex: &str, ad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let parsed = EnvelopeCiphertext::parse(value)?;
    let wrapped = Envelope::parse(parsed.wrapped_key())?;
    let dk = server_key(key_hex).decrypt(&wrapped, DATA_KEY_AAD)?;
    let key = DataKey::new(
        parsed.key_name(),
        parsed.key_version(),
        &dk,
        parsed.wrapped_key().to_vec(),
    )?;
    Ok(key.open(value, ad)?.to_vec())
}

fn error_name(err: &CryptoError) -> String {
    match err {
        CryptoError::Format(format) => {
            let debug = format!("{format:?}");
            debug
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        CryptoError::AuthenticationFailed => "AuthenticationFailed".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn all_envelope_vectors_pass() {
    let (mut valid, mut rewrapped, mut invalid) = (0, 0, 0);
    for case in load_cases() {
        match case {
            Case::Envelope {
                description,
                key_material_hex,
                key_name,
                key_version,
                wrapping_nonce_hex,
                data_key_hex,
                wrapped_key_hex,
                salt_hex,
                nonce_hex,
                plaintext_hex,
                associated_data_hex,
                value_hex,
                rewrapped_from_hex,
            } => {
                valid += 1;
                let (dk, ad, pt) = (
                    unhex(&data_key_hex),
                    unhex(&associated_data_hex),
                    unhex(&plaintext_hex),
                );
                let value = unhex(&value_hex);
                let wrapped = server_key(&key_material_hex)
                    .encrypt_with_nonce(
                        &key_name,
                        key_version,
                        unhex(&wrapping_nonce_hex).try_into().expect("12 bytes"),
                        &dk,
                        DATA_KEY_AAD,
                    )
                    .expect("wraps");
                assert_eq!(hex::encode(&wrapped), wrapped_key_hex, "{description}");
                let key = DataKey::new(&key_name, key_version, &dk, wrapped).expect("valid");
                let parsed = EnvelopeCiphertext::parse(&value).expect("parses");
                assert_eq!(parsed.key_name(), key_name, "{description}");
                assert_eq!(parsed.key_version(), key_version, "{description}");
                assert_eq!(
                    peek_key_version(&value),
                    Ok((Kind::EnvelopeCiphertext, key_name.as_str(), key_version))
                );
                assert_eq!(hex::encode(parsed.salt()), salt_hex, "{description}");
                assert_eq!(hex::encode(parsed.nonce()), nonce_hex, "{description}");
                assert_eq!(key.open(&value, &ad).expect("opens").as_slice(), pt);
                assert_eq!(
                    open_as_server(&value, &key_material_hex, &ad).expect("opens"),
                    pt
                );
                match rewrapped_from_hex {
                    None => {
                        let sealed = key
                            .seal_with_salt_and_nonce(
                                parsed.salt().to_owned(),
                                parsed.nonce().to_owned(),
                                &pt,
                                &ad,
                            )
                            .expect("seals");
                        assert_eq!(hex::encode(sealed), value_hex, "{description}");
                    }
                    Some(original_hex) => {
                        rewrapped += 1;
                        let original = unhex(&original_hex);
                        let rest = 9 + key_name.len() + wrapped_key_len(key_name.len());
                        assert_eq!(original[rest..], value[rest..], "{description}");
                        assert_eq!(
                            replace_wrapped_key(&original, key.wrapped_key()).expect("rewraps"),
                            value,
                            "{description}"
                        );
                    }
                }
            }
            Case::Invalid {
                description,
                value_hex,
                key_material_hex,
                associated_data_hex,
                expected_error,
            } => {
                invalid += 1;
                let value = unhex(&value_hex);
                let result = match key_material_hex {
                    Some(key_hex) => {
                        let ad = unhex(associated_data_hex.as_deref().unwrap_or(""));
                        open_as_server(&value, &key_hex, &ad).map(|_| ())
                    }
                    None => EnvelopeCiphertext::parse(&value)
                        .map(|_| ())
                        .map_err(CryptoError::from),
                };
                match result {
                    Ok(()) => panic!("{description}: accepted, expected {expected_error}"),
                    Err(err) => {
                        assert_eq!(error_name(&err), expected_error, "{description}: {err}")
                    }
                }
            }
        }
    }
    assert!(valid >= 4, "only {valid} valid vectors");
    assert_eq!(rewrapped, 1, "one rewrapped vector");
    assert!(invalid >= 15, "only {invalid} invalid vectors");
}

#[test]
fn worked_example_matches_the_documentation() {
    // docs/ciphertext-format.md walks through the first envelope vector.
    let cases = load_cases();
    let Some(Case::Envelope { value_hex, .. }) = cases.first() else {
        panic!("the first vector is the documented envelope example");
    };
    let value = unhex(value_hex);
    assert_eq!(value.len(), 122 + 2 * 12 + 11);
    assert_eq!(
        hex::encode(&value[..21]),
        "524b01030c637573746f6d65722e70696900000007"
    );
}

/// One `tests/vectors/envelope-made-by-<language>.json`: values sealed by a client's own
/// production path (Rust, Python, TypeScript) under a given data key.
#[derive(Debug, Deserialize)]
struct MadeBy {
    made_by: String,
    key_name: String,
    key_version: u32,
    data_key_hex: String,
    wrapped_key_hex: String,
    cases: Vec<MadeCase>,
}

#[derive(Debug, Deserialize)]
struct MadeCase {
    description: String,
    plaintext_hex: String,
    associated_data_hex: String,
    value_hex: String,
}

/// Every client's values open here: the format is one, whoever sealed.
#[test]
fn values_made_by_every_client_open() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors");
    let mut makers = Vec::new();
    for entry in std::fs::read_dir(dir).expect("tests/vectors is readable") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("envelope-made-by-") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let file: MadeBy = serde_json::from_str(&text).expect("made-by file of the shared shape");
        let key = DataKey::new(
            &file.key_name,
            file.key_version,
            &unhex(&file.data_key_hex),
            unhex(&file.wrapped_key_hex),
        )
        .expect("the file's data key and wrapped key agree");
        assert!(
            file.cases.len() >= 4,
            "{name}: only {} cases",
            file.cases.len()
        );
        for case in &file.cases {
            let value = unhex(&case.value_hex);
            let ad = unhex(&case.associated_data_hex);
            let opened = key
                .open(&value, &ad)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", case.description));
            assert_eq!(
                opened.as_slice(),
                unhex(&case.plaintext_hex),
                "{name}: {}",
                case.description
            );
            // And the associated data is bound: one more byte and it fails.
            let mut other_ad = ad.clone();
            other_ad.push(0);
            assert_eq!(
                key.open(&value, &other_ad).map(|_| ()),
                Err(CryptoError::AuthenticationFailed),
                "{name}: {}",
                case.description
            );
        }
        makers.push(file.made_by);
    }
    assert!(
        makers.iter().any(|m| m == "rust"),
        "envelope-made-by-rust.json is missing: {makers:?}"
    );
}

/// The stream-ciphertext vectors, in this test binary to keep the number of binaries down.
#[path = "stream/vectors.rs"]
mod stream_vectors;
