//! Unit tests of envelope ciphertexts: one per property the spec argues
//! (docs/ciphertext-format.md, "Kind 0x03").

use super::*;
use crate::test_support::{assert_no_key_bytes, sample_key_bytes, TestRng};
use crate::{
    peek_key_version, replace_wrapped_key, rewrapped_head, wrapped_key_len, EncryptionKey,
    Envelope, FormatError, KeyMaterial, DATA_KEY_AAD,
};
use aes_gcm::Aes256Gcm;

const NAME: &str = "orders";

/// A key version of the "server" key `NAME`, with fixed material.
fn server_key(seed: u8) -> EncryptionKey {
    EncryptionKey::new(&KeyMaterial::from_bytes([seed; 32]))
}

/// What GenerateDataKey returns: `dk` wrapped under (name, version).
fn wrap(dk: &[u8; 32], name: &str, version: u32, seed: u8) -> Vec<u8> {
    server_key(seed)
        .encrypt(name, version, dk, DATA_KEY_AAD)
        .expect("wraps")
}

fn data_key(dk: [u8; 32], name: &str, version: u32) -> DataKey {
    DataKey::new(name, version, &dk, wrap(&dk, name, version, 1)).expect("valid data key")
}

#[test]
fn round_trips_and_has_the_documented_layout() {
    let key = data_key(sample_key_bytes(), NAME, 3);
    for plaintext in [&b""[..], b"x", &[0xA5; 5000][..]] {
        for ad in [&b""[..], b"row=17", &[9u8; 1000][..]] {
            let value = key.seal(plaintext, ad).expect("seals");
            assert_eq!(value.len(), 122 + 2 * NAME.len() + plaintext.len());
            assert_eq!(value.len(), key.sealed_len(plaintext.len()));
            assert_eq!(value.capacity(), value.len(), "allocated exactly once");
            assert_eq!(
                peek_key_version(&value),
                Ok((Kind::EnvelopeCiphertext, NAME, 3))
            );
            let parsed = EnvelopeCiphertext::parse(&value).expect("parses");
            assert_eq!(parsed.wrapped_key(), key.wrapped_key());
            assert_eq!(parsed.payload().len(), plaintext.len());
            assert_eq!(key.open(&value, ad).expect("opens").as_slice(), plaintext);
        }
    }
}

#[test]
fn salts_and_nonces_are_fresh() {
    let key = data_key(sample_key_bytes(), NAME, 1);
    let a = key.seal(b"same message", b"").expect("seals");
    let b = key.seal(b"same message", b"").expect("seals");
    let (pa, pb) = (
        EnvelopeCiphertext::parse(&a).expect("parses"),
        EnvelopeCiphertext::parse(&b).expect("parses"),
    );
    assert_ne!(pa.salt(), pb.salt());
    assert_ne!(pa.nonce(), pb.nonce());
    assert_ne!(pa.payload(), pb.payload());
}

#[test]
fn payload_is_aes_gcm_under_the_hkdf_message_key() {
    // Independent computation with the hkdf and aes-gcm crates directly.
    use aes_gcm::aead::{Aead, Payload};
    let dk = sample_key_bytes();
    let key = data_key(dk, NAME, 2);
    let (salt, nonce) = ([0x5Au8; 16], [0x3Cu8; 12]);
    let value = key
        .seal_with_salt_and_nonce(salt, nonce, b"hello", b"ctx")
        .expect("seals");
    let mut info = b"rekey/v1 envelope message key".to_vec();
    info.extend_from_slice(&salt);
    let mut message_key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::from_prk(&dk)
        .expect("prk")
        .expand(&info, &mut message_key)
        .expect("32 bytes");
    let mut aad = b"RK\x01\x03\x06orders".to_vec();
    aad.extend_from_slice(&salt);
    aad.extend_from_slice(b"ctx");
    let expected = Aes256Gcm::new((&message_key).into())
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: b"hello",
                aad: &aad,
            },
        )
        .expect("encrypts");
    let payload_start = (9 + 6) + (69 + 6) + 16 + 12;
    assert_eq!(payload_start, 106 + 2 * 6);
    assert_eq!(&value[payload_start..], expected.as_slice());
    assert_eq!(&value[..15], b"RK\x01\x03\x06orders\x00\x00\x00\x02");
}

#[test]
fn the_rewrapped_head_is_the_rewrapped_value_up_to_its_wrapped_key() {
    let dk = sample_key_bytes();
    let value = data_key(dk, NAME, 1)
        .seal(b"only the head changes", b"ad")
        .expect("seals");
    let new_wrapped = wrap(&dk, NAME, 2, 2);
    let head = rewrapped_head(&value, &new_wrapped).expect("rewraps");
    // As long as the head it replaces: a value's key name fixes its wrapped key's length.
    assert_eq!(head.len(), 9 + NAME.len() + wrapped_key_len(NAME.len()));
    let whole = replace_wrapped_key(&value, &new_wrapped).expect("rewraps");
    assert_eq!(whole[..head.len()], head[..]);
    assert_eq!(whole[head.len()..], value[head.len()..]);
    // Written over the old head, it leaves a value that opens with the same data key.
    let mut in_place = value.clone();
    in_place[..head.len()].copy_from_slice(&head);
    assert_eq!(in_place, whole);
    let rewrapped_key = DataKey::new(NAME, 2, &dk, new_wrapped.clone()).expect("valid data key");
    let opened = rewrapped_key.open(&in_place, b"ad").expect("opens");
    assert_eq!(opened.as_slice(), b"only the head changes");
    // Not a value that embeds a data key: refused.
    let plain = wrap(&dk, NAME, 1, 1);
    assert!(rewrapped_head(&plain, &new_wrapped).is_err());
}

#[test]
fn rewrapping_the_data_key_keeps_the_payload_valid() {
    let dk = sample_key_bytes();
    let key = data_key(dk, NAME, 1);
    let value = key.seal(b"migrate me", b"ad").expect("seals");
    // The server unwraps with version 1 and wraps again with version 2.
    let rewrapped_key = wrap(&dk, NAME, 2, 2);
    let rewrapped = replace_wrapped_key(&value, &rewrapped_key).expect("rewraps");
    assert_eq!(rewrapped.len(), value.len());
    assert_eq!(
        peek_key_version(&rewrapped),
        Ok((Kind::EnvelopeCiphertext, NAME, 2))
    );
    let (old, new) = (
        EnvelopeCiphertext::parse(&value).expect("parses"),
        EnvelopeCiphertext::parse(&rewrapped).expect("parses"),
    );
    assert_eq!(new.wrapped_key(), rewrapped_key.as_slice());
    assert_eq!((old.salt(), old.nonce()), (new.salt(), new.nonce()));
    assert_eq!((old.payload(), old.tag()), (new.payload(), new.tag()));
    let salt_start = 9 + 6 + wrapped_key_len(6);
    assert_eq!(
        value[salt_start..],
        rewrapped[salt_start..],
        "payload bytes unchanged"
    );
    // Whoever unwraps the new wrapped key gets the same data key, which opens it.
    let unwrapped = DataKey::new(NAME, 2, &dk, rewrapped_key).expect("valid");
    assert!(unwrapped.same_key_as(&key));
    assert_eq!(
        unwrapped.open(&rewrapped, b"ad").expect("opens").as_slice(),
        b"migrate me"
    );
}

#[test]
fn swapping_the_wrapped_data_key_fails() {
    let key = data_key(sample_key_bytes(), NAME, 1);
    let other = data_key([0xEE; 32], NAME, 1);
    let value = key.seal(b"secret", b"").expect("seals");
    // Put the other data key's wrapping (same name and version) in place.
    let swapped = replace_wrapped_key(&value, other.wrapped_key()).expect("same shape");
    assert_eq!(
        other.open(&swapped, b"").unwrap_err(),
        CryptoError::AuthenticationFailed,
        "the swapped-in data key derives another message key"
    );
    assert_eq!(
        key.open(&swapped, b"").unwrap_err(),
        CryptoError::AuthenticationFailed,
        "the original data key does not accept a value naming another wrapped key"
    );
    // A value of another data key is refused by this one.
    let theirs = other.seal(b"secret", b"").expect("seals");
    assert_eq!(
        key.open(&theirs, b"").unwrap_err(),
        CryptoError::AuthenticationFailed
    );
}

#[test]
fn changing_the_salt_name_payload_tag_or_ad_fails() {
    let key = data_key(sample_key_bytes(), NAME, 1);
    let value = key.seal(b"0123456789", b"ad").expect("seals");
    let salt_start = 9 + 6 + wrapped_key_len(6);
    for at in salt_start..value.len() {
        let mut altered = value.clone();
        altered[at] ^= 0x01;
        assert_eq!(
            key.open(&altered, b"ad").unwrap_err(),
            CryptoError::AuthenticationFailed,
            "byte {at}"
        );
    }
    assert!(key.open(&value, b"ad!").is_err());
    assert!(key.open(&value, b"").is_err());

    // The same data key wrapped under another name: a value moved to that
    // name (header and wrapped key consistent) still fails, since the name
    // is in the message key and the AAD.
    let dk = sample_key_bytes();
    let renamed_key = DataKey::new("orderz", 1, &dk, wrap(&dk, "orderz", 1, 1)).expect("valid");
    let mut moved = b"RK\x01\x03\x06orderz\x00\x00\x00\x01".to_vec();
    moved.extend_from_slice(renamed_key.wrapped_key());
    moved.extend_from_slice(&value[salt_start..]);
    assert!(EnvelopeCiphertext::parse(&moved).is_ok());
    assert_eq!(
        renamed_key.open(&moved, b"ad").unwrap_err(),
        CryptoError::AuthenticationFailed
    );
}

#[test]
fn every_bit_flip_and_truncation_fails() {
    let key = data_key(sample_key_bytes(), "f", 9);
    let value = key.seal(b"abc", b"").expect("seals");
    for bit in 0..value.len() * 8 {
        let mut altered = value.clone();
        altered[bit / 8] ^= 1 << (bit % 8);
        assert!(key.open(&altered, b"").is_err(), "bit {bit}");
    }
    for len in 0..value.len() {
        assert!(key.open(&value[..len], b"").is_err(), "length {len}");
    }
    let mut longer = value.clone();
    longer.push(0);
    assert!(key.open(&longer, b"").is_err());
}

#[test]
fn parse_checks_the_embedded_wrapped_key() {
    let key = data_key(sample_key_bytes(), NAME, 4);
    let value = key.seal(b"p", b"").expect("seals");
    // Outer version edited alone: header and wrapped key disagree.
    let mut m = value.clone();
    m[14] = 5;
    assert_eq!(
        EnvelopeCiphertext::parse(&m).unwrap_err(),
        FormatError::InvalidWrappedKey
    );
    // Inner kind byte changed to a signature.
    let mut m = value.clone();
    m[15 + 3] = 2;
    assert_eq!(
        EnvelopeCiphertext::parse(&m).unwrap_err(),
        FormatError::InvalidWrappedKey
    );
    // Inner name differs.
    let mut m = value.clone();
    m[15 + 5] = b'O';
    assert_eq!(
        EnvelopeCiphertext::parse(&m).unwrap_err(),
        FormatError::InvalidWrappedKey
    );
    assert_eq!(
        EnvelopeCiphertext::parse(&value[..value.len() - 2]).unwrap_err(),
        FormatError::TooShort {
            len: value.len() - 2,
            need: 122 + 12
        }
    );
    let plain = server_key(1).encrypt(NAME, 1, b"x", b"").expect("ok");
    assert_eq!(
        EnvelopeCiphertext::parse(&plain).unwrap_err(),
        FormatError::NotEnvelopeCiphertext {
            found: Kind::Ciphertext
        }
    );
    assert!(FormatError::InvalidWrappedKey
        .to_string()
        .contains("under the key name and key version in the envelope's header"));
    // Generic parsing accepts the structure and reads the header.
    let env = Envelope::parse(&value).expect("parses");
    assert_eq!(
        (env.kind, env.key_name, env.key_version),
        (Kind::EnvelopeCiphertext, NAME, 4)
    );
}

#[test]
fn new_and_replace_validate_the_wrapped_key() {
    let dk = sample_key_bytes();
    let good = wrap(&dk, NAME, 1, 1);
    assert!(DataKey::new(NAME, 1, &dk, good.clone()).is_ok());
    let cases: [(&str, u32, Vec<u8>); 5] = [
        (NAME, 2, good.clone()),
        ("other", 1, good.clone()),
        (
            NAME,
            1,
            server_key(1).encrypt(NAME, 1, &[1u8; 31], b"").expect("ok"),
        ),
        (
            NAME,
            1,
            crate::SigningKey::new(&KeyMaterial::from_bytes(dk))
                .sign(NAME, 1, b"m")
                .expect("ok"),
        ),
        (NAME, 1, b"not a ciphertext".to_vec()),
    ];
    for (name, version, wrapped) in cases {
        assert_eq!(
            DataKey::new(name, version, &dk, wrapped).unwrap_err(),
            CryptoError::Format(FormatError::WrappedKeyMismatch),
            "{name} {version}"
        );
    }
    assert_eq!(
        DataKey::new(NAME, 1, &dk[..31], good.clone()).unwrap_err(),
        CryptoError::InvalidKeyLength { len: 31 }
    );
    assert_eq!(
        DataKey::new("bad name", 1, &dk, good.clone()).unwrap_err(),
        CryptoError::Format(FormatError::InvalidKeyName)
    );
    let value = DataKey::new(NAME, 1, &dk, good)
        .expect("ok")
        .seal(b"", b"")
        .expect("ok");
    assert_eq!(
        replace_wrapped_key(&value, &wrap(&dk, "other", 2, 1)).unwrap_err(),
        FormatError::WrappedKeyMismatch,
        "rewrap keeps the key name"
    );
    assert_eq!(
        replace_wrapped_key(&wrap(&dk, NAME, 1, 1), &wrap(&dk, NAME, 2, 1)).unwrap_err(),
        FormatError::NotEnvelopeCiphertext {
            found: Kind::Ciphertext
        }
    );
}

#[test]
fn wrong_kind_values_are_refused_by_open() {
    let key = data_key(sample_key_bytes(), NAME, 1);
    let plain = server_key(1).encrypt(NAME, 1, b"x", b"").expect("ok");
    assert!(matches!(
        key.open(&plain, b""),
        Err(CryptoError::Format(
            FormatError::NotEnvelopeCiphertext { .. }
        ))
    ));
}

#[test]
fn random_values_never_open() {
    let key = data_key(sample_key_bytes(), "k", 1);
    let template = key.seal(b"", b"").expect("seals");
    let mut rng = TestRng::new(99);
    for _ in 0..2_000 {
        // Keep a valid header and wrapped key; randomise the rest.
        let keep = 9 + 1 + wrapped_key_len(1);
        let mut bytes = template[..keep].to_vec();
        let extra = rng.below(80) + 44;
        bytes.extend(rng.bytes(extra));
        assert_eq!(
            key.open(&bytes, b"").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }
}

#[test]
fn debug_is_redacted() {
    let key = data_key(sample_key_bytes(), NAME, 1);
    let rendered = format!("{key:?} {key:#?}");
    assert!(rendered.contains("<redacted>"));
    assert!(rendered.contains("orders"));
    assert_no_key_bytes(&rendered, &sample_key_bytes());
}
