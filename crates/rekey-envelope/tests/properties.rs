//! Property tests over every parser and opener of this crate: random bytes,
//! and random mutations (bit flips, byte changes, truncations, extensions)
//! of valid ciphertexts, signatures and envelope ciphertexts, never panic
//! and never authenticate. Case counts keep the file well under 20 s in a
//! debug build.

use proptest::prelude::*;
use rekey_envelope::*;

const NAME: &str = "prop.key";

fn server_key() -> EncryptionKey {
    EncryptionKey::new(&KeyMaterial::from_bytes([0x42; 32]))
}

fn signing_key() -> SigningKey {
    SigningKey::new(&KeyMaterial::from_bytes([0x43; 32]))
}

fn data_key() -> DataKey {
    let dk = [0x44u8; 32];
    let wrapped = server_key()
        .encrypt(NAME, 3, &dk, DATA_KEY_AAD)
        .expect("wraps");
    DataKey::new(NAME, 3, &dk, wrapped).expect("valid")
}

/// One change to a valid value.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
    RemoveByte(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::SetByte(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::Extend),
        any::<usize>().prop_map(Mutation::RemoveByte),
    ]
}

/// Applies the mutations; returns `None` if the result equals the input
/// (e.g. a byte set to its own value), which would legitimately verify.
fn mutate(original: &[u8], mutations: &[Mutation]) -> Option<Vec<u8>> {
    let mut bytes = original.to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::FlipBit(at, bit) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= 1 << bit;
                }
            }
            Mutation::SetByte(at, value) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = *value;
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            Mutation::Extend(extra) => bytes.extend_from_slice(extra),
            Mutation::RemoveByte(at) => {
                if at % len < bytes.len() {
                    bytes.remove(at % len);
                }
            }
        }
    }
    (bytes != original).then_some(bytes)
}

/// Runs every parser and opener on `bytes`; returns whether any of them
/// authenticated it (decrypted, verified or opened).
fn anything_authenticates(bytes: &[u8], message: &[u8], ad: &[u8]) -> bool {
    let _ = peek_key_version(bytes);
    let mut accepted = false;
    if let Ok(env) = Envelope::parse(bytes) {
        accepted |= server_key().decrypt(&env, ad).is_ok();
        accepted |= signing_key().verify(&env, message) == Ok(true);
    }
    if let Ok(parsed) = EnvelopeCiphertext::parse(bytes) {
        let _ = (
            parsed.payload(),
            parsed.tag(),
            parsed.salt(),
            parsed.nonce(),
        );
        accepted |= data_key().open_parsed(&parsed, ad).is_ok();
        let _ = replace_wrapped_key(bytes, data_key().wrapped_key());
    }
    accepted |= data_key().open(bytes, ad).is_ok();
    let _ = replace_wrapped_key(data_key().seal(b"x", b"").as_deref().unwrap_or(&[]), bytes);
    let _ = DataKey::new(NAME, 3, &[0x44; 32], bytes.to_vec());
    accepted
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_or_authenticate(
        prefix in prop_oneof![Just(Vec::new()), Just(b"RK\x01\x01".to_vec()),
                              Just(b"RK\x01\x02".to_vec()), Just(b"RK\x01\x03".to_vec())],
        name_len in 1u8..=70,
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = prefix.clone();
        if !prefix.is_empty() {
            bytes.push(name_len);
        }
        bytes.extend_from_slice(&rest);
        prop_assert!(!anything_authenticates(&bytes, b"m", b"ad"));
    }

    #[test]
    fn mutated_ciphertexts_never_decrypt(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let value = server_key().encrypt(NAME, 3, &plaintext, b"ad").expect("encrypts");
        if let Some(bytes) = mutate(&value, &mutations) {
            prop_assert!(!anything_authenticates(&bytes, b"m", b"ad"));
        }
    }

    #[test]
    fn mutated_signatures_never_verify(
        message in proptest::collection::vec(any::<u8>(), 0..64),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let value = signing_key().sign(NAME, 3, &message).expect("signs");
        if let Some(bytes) = mutate(&value, &mutations) {
            prop_assert!(!anything_authenticates(&bytes, &message, b"ad"));
        }
    }

    #[test]
    fn mutated_envelope_values_never_open(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let value = data_key().seal(&plaintext, b"ad").expect("seals");
        if let Some(bytes) = mutate(&value, &mutations) {
            prop_assert!(!anything_authenticates(&bytes, b"m", b"ad"));
        }
    }
}
