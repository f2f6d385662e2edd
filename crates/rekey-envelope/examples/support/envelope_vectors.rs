//! Writes tests/vectors/envelope-v1.json (kind 0x03, envelope ciphertexts).
//! Every value is built from fixed inputs: the wrapping key version's
//! material, the data key, and the nonces and salts.

use rekey_envelope::*;
use serde::Serialize;

/// One entry of the envelope vector file; `type` comes first in the JSON.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Case {
    /// A valid value and every input and intermediate needed to rebuild it.
    Envelope {
        description: String,
        /// Material of the key version that wraps the data key.
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        /// Nonce of the wrapped data key (a kind-0x01 ciphertext).
        wrapping_nonce_hex: String,
        data_key_hex: String,
        /// The kind-0x01 ciphertext of the data key, associated data
        /// `DATA_KEY_AAD`.
        wrapped_key_hex: String,
        salt_hex: String,
        /// HKDF-Expand(data key, label || salt, 32).
        message_key_hex: String,
        nonce_hex: String,
        plaintext_hex: String,
        associated_data_hex: String,
        value_hex: String,
        /// For a rewrapped value: the value it was rewrapped from. Its bytes
        /// from offset 78+2N on (salt, nonce, payload, tag) are identical.
        #[serde(skip_serializing_if = "Option::is_none")]
        rewrapped_from_hex: Option<String>,
    },
    /// A value that must be refused with `expected_error`.
    Invalid {
        description: String,
        value_hex: String,
        /// Present when the refusal needs a key: unwrap the embedded data
        /// key with this material (AAD `DATA_KEY_AAD`), then open.
        #[serde(skip_serializing_if = "Option::is_none")]
        key_material_hex: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        associated_data_hex: Option<String>,
        expected_error: String,
    },
}

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "c0ffee00deadbeef0123456789abcdeffedcba98765432100f1e2d3c4b5a6978";
const DK_1: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
const DK_2: &str = "f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101";
const WRAP_NONCE: &str = "b0b1b2b3b4b5b6b7b8b9babb";
const SALT: &str = "5a5b5c5d5e5f606162636465666768696a";
const NONCE: &str = "c0c1c2c3c4c5c6c7c8c9cacb";

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn array<const N: usize>(text: &str) -> [u8; N] {
    unhex(text).try_into().unwrap()
}

/// What GenerateDataKey returns for `dk`: a kind-0x01 ciphertext.
fn wrap(key_hex: &str, name: &str, version: u32, nonce_hex: &str, dk_hex: &str) -> Vec<u8> {
    let material = KeyMaterial::from_slice(&unhex(key_hex)).unwrap();
    EncryptionKey::new(&material)
        .encrypt_with_nonce(
            name,
            version,
            array(nonce_hex),
            &unhex(dk_hex),
            DATA_KEY_AAD,
        )
        .unwrap()
}

/// The message key, computed here with the hkdf crate (not the library's
/// own code path) so the vector also pins the derivation.
fn message_key(dk_hex: &str, salt: &[u8]) -> Vec<u8> {
    let mut info = b"rekey/v1 envelope message key".to_vec();
    info.extend_from_slice(salt);
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::from_prk(&unhex(dk_hex))
        .unwrap()
        .expand(&info, &mut okm)
        .unwrap();
    okm.to_vec()
}

struct Inputs<'a> {
    description: &'a str,
    key_hex: &'a str,
    name: &'a str,
    version: u32,
    dk_hex: &'a str,
    salt_hex: &'a str,
    plaintext: &'a [u8],
    ad: &'a [u8],
}

fn valid(i: &Inputs<'_>, rewrapped_from: Option<&[u8]>) -> (Case, Vec<u8>) {
    let wrapped = wrap(i.key_hex, i.name, i.version, WRAP_NONCE, i.dk_hex);
    let key = DataKey::new(i.name, i.version, &unhex(i.dk_hex), wrapped.clone()).unwrap();
    let salt: [u8; SALT_LEN] = array(i.salt_hex);
    let value = match rewrapped_from {
        // A rewrap is made the server's way: replace only the wrapped key.
        Some(original) => replace_wrapped_key(original, &wrapped).unwrap(),
        None => key
            .seal_with_salt_and_nonce(salt, array(NONCE), i.plaintext, i.ad)
            .unwrap(),
    };
    assert_eq!(key.open(&value, i.ad).unwrap().as_slice(), i.plaintext);
    let case = Case::Envelope {
        description: i.description.into(),
        key_material_hex: i.key_hex.into(),
        key_name: i.name.into(),
        key_version: i.version,
        wrapping_nonce_hex: WRAP_NONCE.into(),
        data_key_hex: i.dk_hex.into(),
        wrapped_key_hex: hex::encode(&wrapped),
        salt_hex: i.salt_hex.into(),
        message_key_hex: hex::encode(message_key(i.dk_hex, &salt)),
        nonce_hex: NONCE.into(),
        plaintext_hex: hex::encode(i.plaintext),
        associated_data_hex: hex::encode(i.ad),
        value_hex: hex::encode(&value),
        rewrapped_from_hex: rewrapped_from.map(hex::encode),
    };
    (case, value)
}

fn invalid(description: &str, value: &[u8], keyed: Option<(&str, &[u8])>, error: &str) -> Case {
    Case::Invalid {
        description: description.into(),
        value_hex: hex::encode(value),
        key_material_hex: keyed.map(|(key, _)| key.into()),
        associated_data_hex: keyed.map(|(_, ad)| hex::encode(ad)),
        expected_error: error.into(),
    }
}

pub fn print() {
    let salt = &SALT[..32];
    let worked_inputs = Inputs {
        description: "worked example",
        key_hex: KEY_A,
        name: "customer.pii",
        version: 7,
        dk_hex: DK_1,
        salt_hex: salt,
        plaintext: b"hello world",
        ad: b"row=42",
    };
    let (worked_case, worked) = valid(&worked_inputs, None);
    let mut cases = vec![worked_case];
    let long_name = "n".repeat(64);
    let kib: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    for inputs in [
        Inputs {
            description: "empty plaintext and empty associated data",
            name: "k",
            version: 1,
            plaintext: b"",
            ad: b"",
            ..worked_inputs
        },
        Inputs {
            description: "1 KiB plaintext, 64-byte key name, largest version",
            key_hex: KEY_B,
            name: &long_name,
            version: u32::MAX,
            dk_hex: DK_2,
            salt_hex: &SALT[2..34],
            plaintext: &kib,
            ..worked_inputs
        },
    ] {
        cases.push(valid(&inputs, None).0);
    }
    // The worked value rewrapped from version 7 (KEY_A) to version 8 (KEY_B).
    let rewrap_inputs = Inputs {
        description: "the worked example rewrapped to version 8: payload bytes identical",
        key_hex: KEY_B,
        version: 8,
        ..worked_inputs
    };
    let (rewrapped_case, _) = valid(&rewrap_inputs, Some(&worked));
    cases.push(rewrapped_case);

    let n = 12;
    let wrapped_start = 9 + n;
    let salt_start = wrapped_start + wrapped_key_len(n);
    let payload_start = salt_start + SALT_LEN + NONCE_LEN;
    let keyed = Some((KEY_A, &b"row=42"[..]));
    let mut v = Vec::new();
    let mut m = worked.clone();
    m[wrapped_start + 21 + n + 3] ^= 0x10;
    v.push(invalid(
        "wrapped data key ciphertext byte flipped (unwrapping fails)",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let other = wrap(KEY_A, "customer.pii", 7, WRAP_NONCE, DK_2);
    let m = replace_wrapped_key(&worked, &other).unwrap();
    v.push(invalid(
        "wrapped data key swapped for another data key's (same name and version)",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[salt_start] ^= 0x01;
    v.push(invalid(
        "salt byte flipped",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[salt_start + SALT_LEN] ^= 0x01;
    v.push(invalid(
        "nonce byte flipped",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[payload_start] ^= 0x80;
    v.push(invalid(
        "payload byte flipped",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    *m.last_mut().unwrap() ^= 0x01;
    v.push(invalid(
        "tag byte flipped",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    v.push(invalid(
        "last byte removed: still structurally valid, fails authentication",
        &worked[..worked.len() - 1],
        keyed,
        "AuthenticationFailed",
    ));
    v.push(invalid(
        "different associated data",
        &worked,
        Some((KEY_A, b"row=43")),
        "AuthenticationFailed",
    ));
    // The same data key wrapped under another name, header and wrapped key
    // consistent: the name is in the message key and the payload's AAD.
    let mut m = b"RK\x01\x03\x0ccustomer.piI\x00\x00\x00\x07".to_vec();
    m.extend_from_slice(&wrap(KEY_A, "customer.piI", 7, WRAP_NONCE, DK_1));
    m.extend_from_slice(&worked[salt_start..]);
    v.push(invalid(
        "moved to another key name (header and wrapped key both renamed)",
        &m,
        keyed,
        "AuthenticationFailed",
    ));
    let mut m = worked.clone();
    m[5 + 11] = b'I';
    v.push(invalid(
        "key name changed in the header only",
        &m,
        None,
        "InvalidWrappedKey",
    ));
    let mut m = worked.clone();
    m[20] = 8;
    v.push(invalid(
        "key version changed in the header only",
        &m,
        None,
        "InvalidWrappedKey",
    ));
    let mut m = worked.clone();
    m[wrapped_start + 3] = 0x02;
    v.push(invalid(
        "embedded wrapped key is not a kind-0x01 ciphertext",
        &m,
        None,
        "InvalidWrappedKey",
    ));
    v.push(invalid(
        "truncated to 122 + 2N - 1 bytes",
        &worked[..122 + 2 * n - 1],
        None,
        "TooShort",
    ));
    v.push(invalid(
        "truncated inside the wrapped key",
        &worked[..wrapped_start + 10],
        None,
        "TooShort",
    ));
    let mut m = worked.clone();
    m[3] = 0x05;
    v.push(invalid("kind 0x05", &m, None, "UnknownKind"));
    let plain = wrap(KEY_A, "customer.pii", 7, WRAP_NONCE, DK_1);
    v.push(invalid(
        "a kind-0x01 ciphertext given as an envelope ciphertext",
        &plain,
        None,
        "NotEnvelopeCiphertext",
    ));
    v.push(invalid("empty value", b"", None, "Empty"));
    cases.extend(v);
    println!("{}", serde_json::to_string_pretty(&cases).unwrap());
}
