//! Writes tests/vectors/stream-v1.json (kind 0x04, stream ciphertexts): valid streams built
//! from fixed inputs (wrapping material, data key, nonces, salts), and tampered variants
//! every reader must refuse.

use rekey_envelope::*;
use serde::Serialize;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Case {
    /// A valid stream and every input and intermediate needed to rebuild it.
    Stream {
        description: String,
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        wrapping_nonce_hex: String,
        data_key_hex: String,
        wrapped_key_hex: String,
        salt_hex: String,
        segment_size: u32,
        /// HKDF-Expand(data key, "rekey/v1 stream segment key" || salt, 32).
        stream_key_hex: String,
        plaintext_hex: String,
        associated_data_hex: String,
        value_hex: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        rewrapped_from_hex: Option<String>,
    },
    /// A value that must be refused with `expected_error`.
    Invalid {
        description: String,
        value_hex: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        key_material_hex: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        associated_data_hex: Option<String>,
        expected_error: String,
    },
}

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "c0ffee00deadbeef0123456789abcdeffedcba98765432100f1e2d3c4b5a6978";
const DK: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
const WRAP_NONCE: &str = "b0b1b2b3b4b5b6b7b8b9babb";
const NAME: &str = "files.backup";
const AD: &[u8] = b"file=report.pdf";

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn wrap(key_hex: &str, version: u32) -> Vec<u8> {
    let material = KeyMaterial::from_slice(&unhex(key_hex)).unwrap();
    EncryptionKey::new(&material)
        .encrypt_with_nonce(
            NAME,
            version,
            unhex(WRAP_NONCE).try_into().unwrap(),
            &unhex(DK),
            DATA_KEY_AAD,
        )
        .unwrap()
}

/// The stream key, computed with the hkdf crate (not the library's path).
fn stream_key(salt: &[u8]) -> Vec<u8> {
    let mut info = b"rekey/v1 stream segment key".to_vec();
    info.extend_from_slice(salt);
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::from_prk(&unhex(DK))
        .unwrap()
        .expand(&info, &mut okm)
        .unwrap();
    okm.to_vec()
}

/// Plaintext of `len` bytes, a recognisable pattern.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

struct Inputs<'a> {
    description: &'a str,
    key_hex: &'a str,
    version: u32,
    salt: [u8; 16],
    segment_size: u32,
    plaintext: Vec<u8>,
    ad: &'a [u8],
}

fn valid(i: &Inputs<'_>, rewrapped_from: Option<&[u8]>) -> (Case, Vec<u8>) {
    let wrapped = wrap(i.key_hex, i.version);
    let key = DataKey::new(NAME, i.version, &unhex(DK), wrapped.clone()).unwrap();
    let value = match rewrapped_from {
        Some(original) => replace_wrapped_key(original, &wrapped).unwrap(),
        None => key
            .seal_stream_with_salt(i.salt, &i.plaintext, i.segment_size, i.ad)
            .unwrap(),
    };
    assert_eq!(
        key.open_stream(&value, i.ad).unwrap().as_slice(),
        i.plaintext
    );
    let case = Case::Stream {
        description: i.description.into(),
        key_material_hex: i.key_hex.into(),
        key_name: NAME.into(),
        key_version: i.version,
        wrapping_nonce_hex: WRAP_NONCE.into(),
        data_key_hex: DK.into(),
        wrapped_key_hex: hex::encode(&wrapped),
        salt_hex: hex::encode(i.salt),
        segment_size: i.segment_size,
        stream_key_hex: hex::encode(stream_key(&i.salt)),
        plaintext_hex: hex::encode(&i.plaintext),
        associated_data_hex: hex::encode(i.ad),
        value_hex: hex::encode(&value),
        rewrapped_from_hex: rewrapped_from.map(hex::encode),
    };
    (case, value)
}

fn refused(description: &str, value: &[u8], ad: Option<&[u8]>, error: &str) -> Case {
    Case::Invalid {
        description: description.into(),
        value_hex: hex::encode(value),
        key_material_hex: ad.map(|_| KEY_A.into()),
        associated_data_hex: ad.map(hex::encode),
        expected_error: error.into(),
    }
}

pub fn print() {
    let salt = |b: u8| core::array::from_fn::<u8, 16, _>(|i| b.wrapping_add(i as u8));
    let mut cases = Vec::new();
    let inputs = [
        (
            "empty payload: one empty last segment",
            0,
            b"".as_slice(),
            0x10,
        ),
        ("100 bytes: one short last segment", 100, AD, 0x20),
        (
            "512 bytes: two full segments, the last one full",
            512,
            b"".as_slice(),
            0x30,
        ),
        ("600 bytes: three segments (256, 256, 88)", 600, AD, 0x40),
    ];
    let mut three = Vec::new();
    for (description, len, ad, s) in inputs {
        let (case, value) = valid(
            &Inputs {
                description,
                key_hex: KEY_A,
                version: 7,
                salt: salt(s),
                segment_size: 256,
                plaintext: payload(len),
                ad,
            },
            None,
        );
        cases.push(case);
        three = value;
    }
    let (case, _) = valid(
        &Inputs {
            description: "2000 bytes in 1 KiB segments (1024, 976)",
            key_hex: KEY_A,
            version: 7,
            salt: salt(0x50),
            segment_size: 1024,
            plaintext: payload(2000),
            ad: b"",
        },
        None,
    );
    cases.push(case);
    let (case, _) = valid(
        &Inputs {
            description:
                "the 600-byte stream rewrapped to version 8: bytes from 78+2N on identical",
            key_hex: KEY_B,
            version: 8,
            salt: salt(0x40),
            segment_size: 256,
            plaintext: payload(600),
            ad: AD,
        },
        Some(&three),
    );
    cases.push(case);

    // Tampered variants of the 600-byte stream (header 122 bytes, segments of 272, 272, 104).
    let h = 98 + 2 * NAME.len();
    let seg = [h..h + 272, h + 272..h + 544, h + 544..three.len()];
    let build = |order: &[usize]| {
        let mut out = three[..h].to_vec();
        for &i in order {
            out.extend_from_slice(&three[seg[i].clone()]);
        }
        out
    };
    let auth = "AuthenticationFailed";
    let keyed = Some(AD);
    cases.push(refused(
        "last segment dropped (truncated at a segment boundary)",
        &build(&[0, 1]),
        keyed,
        auth,
    ));
    cases.push(refused("only the first segment", &build(&[0]), keyed, auth));
    cases.push(refused("header only, no segment", &build(&[]), keyed, auth));
    cases.push(refused(
        "truncated inside the last segment",
        &three[..three.len() - 40],
        keyed,
        auth,
    ));
    cases.push(refused(
        "truncated inside the last tag",
        &three[..three.len() - 1],
        keyed,
        auth,
    ));
    cases.push(refused(
        "segments 0 and 1 swapped",
        &build(&[1, 0, 2]),
        keyed,
        auth,
    ));
    cases.push(refused(
        "segment 0 duplicated",
        &build(&[0, 0, 1, 2]),
        keyed,
        auth,
    ));
    cases.push(refused("segment 1 dropped", &build(&[0, 2]), keyed, auth));
    cases.push(refused(
        "the last segment appended again",
        &build(&[0, 1, 2, 2]),
        keyed,
        auth,
    ));
    cases.push(refused(
        "one byte appended",
        &[&three[..], &[0u8][..]].concat(),
        keyed,
        auth,
    ));
    let mut m = three.clone();
    let last_byte_of_segment_1 = seg[1].end - 1;
    m[last_byte_of_segment_1] ^= 0x01;
    cases.push(refused("a tag byte of segment 1 flipped", &m, keyed, auth));
    let mut m = three.clone();
    m[seg[2].start] ^= 0x80;
    cases.push(refused(
        "a ciphertext byte of the last segment flipped",
        &m,
        keyed,
        auth,
    ));
    let mut m = three.clone();
    m[h - 20] ^= 0x01;
    cases.push(refused("a salt byte flipped", &m, keyed, auth));
    let mut m = three.clone();
    m[h - 4..h].copy_from_slice(&512u32.to_be_bytes());
    cases.push(refused(
        "segment size changed from 256 to 512",
        &m,
        keyed,
        auth,
    ));
    cases.push(refused(
        "different associated data",
        &three,
        Some(b"file=other.pdf"),
        auth,
    ));
    let mut m = three.clone();
    m[h - 4..h].copy_from_slice(&255u32.to_be_bytes());
    cases.push(refused(
        "segment size 255 (below the minimum)",
        &m,
        None,
        "InvalidSegmentSize",
    ));
    let mut m = three.clone();
    m[h - 4..h].copy_from_slice(&((1u32 << 20) + 1).to_be_bytes());
    cases.push(refused(
        "segment size 1 MiB + 1 (above the maximum)",
        &m,
        None,
        "InvalidSegmentSize",
    ));
    cases.push(refused(
        "truncated inside the header",
        &three[..h - 1],
        None,
        "TooShort",
    ));
    let mut m = three.clone();
    m[21 + 20] ^= 0xff; // the last byte of the wrapped key's own version field (38..42)
    cases.push(refused(
        "wrapped key's version differs from the header's",
        &m,
        None,
        "InvalidWrappedKey",
    ));
    let mut m = three.clone();
    m[3] = 0x03;
    cases.push(refused(
        "kind byte set to 0x03: not a stream ciphertext",
        &m,
        None,
        "NotStreamCiphertext",
    ));

    println!("{}", serde_json::to_string_pretty(&cases).unwrap());
}
