//! Checks this crate against the pinned stream-ciphertext (kind 0x04) vectors in
//! `tests/vectors/stream-v1.json`, which `tests/vectors/check_envelope_vectors.py` also
//! checks from the spec alone: every stream opens whole, segment by segment as a sequential
//! reader finds them, and by byte ranges; every tampered one is refused with its error.
//! A failure means the format changed: fix the code, do not regenerate the vectors.

use rekey_envelope::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Case {
    Stream {
        description: String,
        key_material_hex: String,
        key_name: String,
        key_version: u32,
        wrapped_key_hex: String,
        data_key_hex: String,
        salt_hex: String,
        segment_size: u32,
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

fn load() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/stream-v1.json"
    );
    let text = std::fs::read_to_string(path).expect("vector file is readable");
    serde_json::from_str(&text).expect("vector file has the expected shape")
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("vector hex is valid")
}

/// Unwraps the stream's data key the way a client does: Decrypt of the embedded wrapped key.
fn data_key_of(value: &[u8], key_hex: &str) -> Result<DataKey, String> {
    let header = StreamHeader::parse(value).map_err(|e| variant(&CryptoError::Format(e)))?;
    let material = KeyMaterial::from_slice(&unhex(key_hex)).expect("32 bytes");
    let wrapped = Envelope::parse(header.wrapped_key()).map_err(|e| variant(&e.into()))?;
    let dk = EncryptionKey::new(&material)
        .decrypt(&wrapped, DATA_KEY_AAD)
        .map_err(|e| variant(&e))?;
    DataKey::new(
        header.key_name(),
        header.key_version(),
        &dk,
        header.wrapped_key().to_vec(),
    )
    .map_err(|e| variant(&e))
}

/// The error class a vector names (`StreamAuthenticationFailed` is the stream's wording of
/// the class `AuthenticationFailed`).
fn variant(e: &CryptoError) -> String {
    let text = match e {
        CryptoError::Format(f) => format!("{f:?}"),
        CryptoError::StreamAuthenticationFailed => "AuthenticationFailed".into(),
        other => format!("{other:?}"),
    };
    text.split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Opens `value` segment by segment as a sequential reader would: `S + 16` bytes at a time,
/// a segment being the last when nothing follows it.
fn open_sequentially(key: &DataKey, value: &[u8], ad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let header = StreamHeader::parse(value)?;
    let opener = key.stream_opener(&header, ad)?;
    let full = opener.segment_size() + 16;
    let mut rest = &value[header.len()..];
    let mut out = Vec::new();
    let mut index = 0;
    loop {
        let take = rest.len().min(full);
        let last = rest.len() <= full;
        let mut buf = rest[..take].to_vec();
        opener.open_segment(index, last, &mut buf)?;
        out.extend_from_slice(&buf);
        rest = &rest[take..];
        index += 1;
        if last {
            return Ok(out);
        }
    }
}

/// Opens plaintext bytes `range` reading only the segments the layout names.
fn open_range(key: &DataKey, value: &[u8], ad: &[u8], range: std::ops::Range<u64>) -> Vec<u8> {
    let header = StreamHeader::parse(value).expect("parses");
    let layout = StreamLayout::new(&header, value.len() as u64).expect("layout");
    let opener = key.stream_opener(&header, ad).expect("opener");
    let mut out = Vec::new();
    for index in layout.segments_for(range.clone()).expect("in bounds") {
        let (bytes, last) = layout.segment(index).expect("segment");
        let mut buf = value[bytes.start as usize..bytes.end as usize].to_vec();
        opener.open_segment(index, last, &mut buf).expect("opens");
        let offset = layout.plaintext_offset(index);
        let from = range.start.saturating_sub(offset) as usize;
        let to = (range.end - offset).min(buf.len() as u64) as usize;
        out.extend_from_slice(&buf[from..to]);
    }
    out
}

#[test]
fn every_stream_vector_opens_whole_sequentially_and_by_range() {
    let mut valid = 0;
    for case in load() {
        let Case::Stream {
            description,
            key_material_hex,
            key_name,
            key_version,
            wrapped_key_hex,
            data_key_hex,
            salt_hex,
            segment_size,
            plaintext_hex,
            associated_data_hex,
            value_hex,
            rewrapped_from_hex,
        } = case
        else {
            continue;
        };
        valid += 1;
        let (value, plaintext, ad) = (
            unhex(&value_hex),
            unhex(&plaintext_hex),
            unhex(&associated_data_hex),
        );
        let key = data_key_of(&value, &key_material_hex).expect(&description);
        assert_eq!(
            peek_key_version(&value),
            Ok((Kind::StreamCiphertext, key_name.as_str(), key_version))
        );
        assert_eq!(key.wrapped_key(), unhex(&wrapped_key_hex).as_slice());
        assert_eq!(
            key.open_stream(&value, &ad).expect(&description).as_slice(),
            plaintext
        );
        assert_eq!(
            open_sequentially(&key, &value, &ad).expect(&description),
            plaintext
        );
        let len = plaintext.len() as u64;
        for (a, b) in [
            (0, len),
            (0, len.min(1)),
            (len / 3, len - len / 4),
            (len, len),
        ] {
            assert_eq!(
                open_range(&key, &value, &ad, a..b),
                plaintext[a as usize..b as usize],
                "{description}: range {a}..{b}"
            );
        }
        // Sealing with the vector's salt makes the same bytes (rewrapped ones are made by
        // replacing the wrapped key of the original instead).
        match rewrapped_from_hex {
            None => {
                let sealed = key
                    .seal_stream_with_salt(
                        unhex(&salt_hex).try_into().expect("16 bytes"),
                        &plaintext,
                        segment_size,
                        &ad,
                    )
                    .expect("seals");
                assert_eq!(sealed, value, "{description}");
            }
            Some(original) => {
                let rewrapped =
                    replace_wrapped_key(&unhex(&original), key.wrapped_key()).expect("rewraps");
                assert_eq!(rewrapped, value, "{description}");
            }
        }
        assert_eq!(unhex(&data_key_hex).len(), 32);
    }
    assert!(valid >= 6, "{valid} valid vectors");
}

#[test]
fn every_invalid_stream_vector_is_refused_with_its_error() {
    let mut refused = 0;
    for case in load() {
        let Case::Invalid {
            description,
            value_hex,
            key_material_hex,
            associated_data_hex,
            expected_error,
        } = case
        else {
            continue;
        };
        refused += 1;
        let value = unhex(&value_hex);
        let got = match key_material_hex {
            Some(key_hex) => {
                let ad = unhex(associated_data_hex.as_deref().unwrap_or(""));
                let whole = data_key_of(&value, &key_hex)
                    .and_then(|key| key.open_stream(&value, &ad).map_err(|e| variant(&e)));
                // The sequential reader must refuse it the same way.
                let sequential = data_key_of(&value, &key_hex)
                    .and_then(|key| open_sequentially(&key, &value, &ad).map_err(|e| variant(&e)));
                assert_eq!(
                    whole.as_ref().err(),
                    sequential.as_ref().err(),
                    "{description}"
                );
                whole.err()
            }
            None => StreamHeader::parse(&value)
                .err()
                .map(|e| variant(&CryptoError::Format(e))),
        };
        assert_eq!(
            got.as_deref(),
            Some(expected_error.as_str()),
            "{description}"
        );
    }
    assert!(refused >= 15, "{refused} invalid vectors");
}
