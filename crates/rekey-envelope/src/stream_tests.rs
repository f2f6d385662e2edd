//! Unit tests of stream ciphertexts (`stream.rs` and `stream_seal.rs`): the layout, and one test per attack the spec says the
//! construction detects (docs/ciphertext-format.md, "Kind 0x04").

use super::*;
use crate::stream::{stream_header_len_from_prefix, stream_len};
use crate::test_support::{sample_key_bytes, TestRng};
use crate::FormatError;
use crate::{
    peek_key_version, replace_wrapped_key, EncryptionKey, EnvelopeCiphertext, KeyMaterial,
    DATA_KEY_AAD,
};

const NAME: &str = "files.backup";
const S: u32 = 256;

fn wrap(dk: &[u8; 32], version: u32, seed: u8) -> Vec<u8> {
    EncryptionKey::new(&KeyMaterial::from_bytes([seed; 32]))
        .encrypt(NAME, version, dk, DATA_KEY_AAD)
        .expect("wraps")
}

fn data_key(version: u32) -> DataKey {
    let dk = sample_key_bytes();
    DataKey::new(NAME, version, &dk, wrap(&dk, version, 1)).expect("valid data key")
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// The segments of `value` after its header, as `(start, end)` offsets.
fn segments(value: &[u8]) -> Vec<(usize, usize)> {
    let header = StreamHeader::parse(value).expect("parses");
    let layout = StreamLayout::new(&header, value.len() as u64).expect("layout");
    (0..layout.segment_count())
        .map(|i| {
            let (r, _) = layout.segment(i).expect("segment");
            (r.start as usize, r.end as usize)
        })
        .collect()
}

#[test]
fn round_trips_with_the_documented_lengths() {
    let key = data_key(3);
    let h = 98 + 2 * NAME.len();
    for len in [0, 1, 255, 256, 257, 512, 600, 5000] {
        for ad in [&b""[..], b"file=a.pdf"] {
            let value = key.seal_stream(&payload(len), S, ad).expect("seals");
            let k = len.div_ceil(S as usize).max(1);
            assert_eq!(value.len(), h + len + 16 * k, "len {len}");
            assert_eq!(value.len() as u64, stream_len(NAME.len(), S, len as u64));
            assert_eq!(
                peek_key_version(&value),
                Ok((Kind::StreamCiphertext, NAME, 3))
            );
            let header = StreamHeader::parse(&value).expect("parses");
            assert_eq!((header.len(), header.segment_size()), (h, S));
            assert_eq!(header.wrapped_key(), key.wrapped_key());
            let layout = StreamLayout::new(&header, value.len() as u64).expect("layout");
            assert_eq!(layout.plaintext_len(), len as u64);
            assert_eq!(layout.segment_count(), k as u64);
            assert_eq!(
                key.open_stream(&value, ad).expect("opens").as_slice(),
                payload(len)
            );
        }
    }
}

#[test]
fn segment_nonces_hold_the_index_and_the_last_flag() {
    assert_eq!(
        segment_nonce(1, false).expect("nonce"),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    );
    assert_eq!(
        segment_nonce(0x0102_0304, true).expect("nonce"),
        [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1]
    );
    assert!(segment_nonce(1 << 32, false).is_err());
}

#[test]
fn every_segment_rearrangement_is_refused() {
    let key = data_key(1);
    let value = key.seal_stream(&payload(600), S, b"ad").expect("seals");
    let segs = segments(&value);
    assert_eq!(segs.len(), 3);
    let h = segs[0].0;
    let seg = |i: usize| &value[segs[i].0..segs[i].1];
    let build = |order: &[usize]| {
        let mut out = value[..h].to_vec();
        for &i in order {
            out.extend_from_slice(seg(i));
        }
        out
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated at a segment boundary", build(&[0, 1])),
        ("first segment only", build(&[0])),
        ("header only", build(&[])),
        ("reordered", build(&[1, 0, 2])),
        ("duplicated", build(&[0, 0, 1, 2])),
        ("dropped", build(&[0, 2])),
        ("appended a copy of the last", build(&[0, 1, 2, 2])),
        ("appended a copy of the first", build(&[0, 1, 2, 0])),
        ("cut inside the last tag", value[..value.len() - 1].to_vec()),
        (
            "cut inside the last segment",
            value[..value.len() - 20].to_vec(),
        ),
        ("one byte appended", [&value[..], &[0][..]].concat()),
    ];
    for (what, tampered) in cases {
        assert_eq!(
            key.open_stream(&tampered, b"ad"),
            Err(CryptoError::StreamAuthenticationFailed),
            "{what}"
        );
    }
    assert_eq!(
        key.open_stream(&value, b"other"),
        Err(CryptoError::StreamAuthenticationFailed)
    );
}

#[test]
fn the_last_flag_decides_truncation_at_a_full_segment() {
    // Two full segments: the second is the last one and is full; dropping it leaves a full
    // segment sealed as "not last", which must not open as the last.
    let key = data_key(1);
    let value = key.seal_stream(&payload(512), S, b"").expect("seals");
    let segs = segments(&value);
    assert_eq!(segs.len(), 2);
    let header = StreamHeader::parse(&value).expect("parses");
    let opener = key.stream_opener(&header, b"").expect("opener");
    let mut first = value[segs[0].0..segs[0].1].to_vec();
    assert_eq!(
        opener.open_segment(0, true, &mut first),
        Err(CryptoError::StreamAuthenticationFailed)
    );
    assert!(
        first.is_empty(),
        "no unauthenticated plaintext is left behind"
    );
    let mut first = value[segs[0].0..segs[0].1].to_vec();
    opener
        .open_segment(0, false, &mut first)
        .expect("opens as not last");
    assert_eq!(first, payload(256));
}

#[test]
fn every_flipped_byte_is_refused() {
    let key = data_key(1);
    let value = key.seal_stream(&payload(300), S, b"").expect("seals");
    let mut rng = TestRng::new(5);
    for at in 0..value.len() {
        let mut tampered = value.clone();
        tampered[at] ^= 1 << (rng.next_u64() % 8);
        assert!(key.open_stream(&tampered, b"").is_err(), "byte {at}");
    }
}

#[test]
fn a_changed_segment_size_is_refused() {
    let key = data_key(1);
    let value = key.seal_stream(&payload(1000), 512, b"").expect("seals");
    let at = 94 + 2 * NAME.len();
    let mut tampered = value.clone();
    tampered[at..at + 4].copy_from_slice(&256u32.to_be_bytes());
    assert_eq!(
        key.open_stream(&tampered, b""),
        Err(CryptoError::StreamAuthenticationFailed)
    );
    for bad in [0u32, 255, (1 << 20) + 1] {
        let mut tampered = value.clone();
        tampered[at..at + 4].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(
            StreamHeader::parse(&tampered).map(|h| h.segment_size()),
            Err(FormatError::InvalidSegmentSize(bad))
        );
    }
    assert!(matches!(
        key.stream_sealer(100, b""),
        Err(CryptoError::Format(FormatError::InvalidSegmentSize(100)))
    ));
}

#[test]
fn header_errors_name_the_problem() {
    let key = data_key(1);
    let value = key.seal_stream(b"abc", S, b"").expect("seals");
    let h = 98 + 2 * NAME.len();
    assert!(matches!(
        StreamHeader::parse(&value[..h - 1]),
        Err(FormatError::TooShort { need, .. }) if need == h + 16
    ));
    assert!(
        StreamHeader::parse(&value[..h]).is_ok(),
        "a header alone parses"
    );
    let envelope = key.seal(b"abc", b"").expect("seals");
    assert_eq!(
        StreamHeader::parse(&envelope).map(|h| h.len()),
        Err(FormatError::NotStreamCiphertext {
            found: Kind::EnvelopeCiphertext
        })
    );
    assert_eq!(
        EnvelopeCiphertext::parse(&value).map(|e| e.key_version()),
        Err(FormatError::NotEnvelopeCiphertext {
            found: Kind::StreamCiphertext
        })
    );
    let mut renamed = value.clone();
    renamed[5] = b'F'; // header name no longer matches the wrapped key's
    assert_eq!(
        StreamHeader::parse(&renamed).map(|h| h.len()),
        Err(FormatError::InvalidWrappedKey)
    );
    assert_eq!(stream_header_len_from_prefix(&value[..5]), Ok(h));
    assert_eq!(
        stream_header_len_from_prefix(&envelope[..5]),
        Err(FormatError::NotStreamCiphertext {
            found: Kind::EnvelopeCiphertext
        })
    );
    assert_eq!(
        stream_header_len_from_prefix(b"XK\x01\x04\x05"),
        Err(FormatError::BadMagic)
    );
    assert!(matches!(
        stream_header_len_from_prefix(b"RK\x01"),
        Err(FormatError::TooShort { .. })
    ));
}

#[test]
fn rewrapping_changes_only_the_version_and_wrapped_key() {
    let key = data_key(7);
    let value = key.seal_stream(&payload(700), S, b"ad").expect("seals");
    let dk = sample_key_bytes();
    let new_wrapped = wrap(&dk, 8, 2);
    let rewrapped = replace_wrapped_key(&value, &new_wrapped).expect("rewraps");
    assert_eq!(rewrapped.len(), value.len());
    let after_wrapped = 78 + 2 * NAME.len();
    assert_eq!(rewrapped[after_wrapped..], value[after_wrapped..]);
    assert_eq!(
        peek_key_version(&rewrapped),
        Ok((Kind::StreamCiphertext, NAME, 8))
    );
    let new_key = DataKey::new(NAME, 8, &dk, new_wrapped).expect("data key");
    assert_eq!(
        new_key
            .open_stream(&rewrapped, b"ad")
            .expect("opens")
            .as_slice(),
        payload(700)
    );
    // The old data key object no longer matches the embedded wrapped key.
    assert_eq!(
        key.open_stream(&rewrapped, b"ad"),
        Err(CryptoError::StreamAuthenticationFailed)
    );
}

#[test]
fn ranges_map_to_exactly_the_segments_they_need() {
    let key = data_key(1);
    let value = key.seal_stream(&payload(600), S, b"").expect("seals");
    let header = StreamHeader::parse(&value).expect("parses");
    let layout = StreamLayout::new(&header, value.len() as u64).expect("layout");
    assert_eq!(layout.segments_for(0..1), Ok(0..1));
    assert_eq!(layout.segments_for(255..257), Ok(0..2));
    assert_eq!(layout.segments_for(256..512), Ok(1..2));
    assert_eq!(layout.segments_for(599..600), Ok(2..3));
    assert_eq!(layout.segments_for(0..600), Ok(0..3));
    assert_eq!(layout.segments_for(300..300), Ok(0..0));
    assert_eq!(
        layout.segments_for(10..601),
        Err(CryptoError::RangeOutOfBounds {
            start: 10,
            end: 601,
            len: 600
        })
    );
    let reversed = core::ops::Range { start: 5, end: 4 };
    assert!(layout.segments_for(reversed).is_err());
    assert_eq!(layout.segment(3), None);
    assert_eq!(layout.plaintext_offset(2), 512);
}

#[test]
fn the_sealer_enforces_the_segment_rules() {
    let key = data_key(1);
    let (_, mut sealer) = key.stream_sealer(S, b"").expect("sealer");
    let mut short = vec![0u8; 10];
    assert!(matches!(
        sealer.seal_segment(&mut short, false),
        Err(CryptoError::StreamMisuse(_))
    ));
    let mut long = vec![0u8; 257];
    assert!(sealer.seal_segment(&mut long, true).is_err());
    let mut full = vec![0u8; 256];
    sealer.seal_segment(&mut full, false).expect("seals");
    let mut empty = Vec::new();
    assert!(
        sealer.seal_segment(&mut empty, true).is_err(),
        "no empty last segment after others"
    );
    let mut last = vec![1u8; 3];
    sealer.seal_segment(&mut last, true).expect("seals");
    assert!(sealer.is_finished());
    let mut more = vec![1u8; 3];
    assert!(sealer.seal_segment(&mut more, true).is_err());
}

#[test]
fn debug_shows_no_key() {
    let key = data_key(1);
    let (_, sealer) = key.stream_sealer(S, b"").expect("sealer");
    let rendered = format!("{sealer:?}");
    assert!(rendered.contains("segment_size"), "{rendered}");
    assert!(!rendered.contains("cipher"), "{rendered}");
}

#[test]
fn sealing_from_the_callers_bytes_makes_the_same_stream() {
    let key = data_key(1);
    let plaintext = payload(700);
    let salt = [9u8; 16];
    let expected = key
        .seal_stream_with_salt(salt, &plaintext, S, b"ad")
        .expect("seals");
    let (mut out, mut sealer) = key.stream_sealer_with_salt(salt, S, b"ad").expect("sealer");
    let mut segment = vec![0u8; 256 + 16];
    for chunk in plaintext[..512].chunks(256) {
        sealer
            .seal_full_segment_into(chunk, &mut segment)
            .expect("seals");
        out.extend_from_slice(&segment);
    }
    let mut last = plaintext[512..].to_vec();
    sealer.seal_segment(&mut last, true).expect("seals");
    out.extend_from_slice(&last);
    assert_eq!(out, expected);
    assert!(sealer
        .seal_full_segment_into(&plaintext[..256], &mut segment)
        .is_err());
}
