//! Helpers shared by this module's unit tests.

/// A fixed, easily recognisable key: bytes 0x00, 0x01, ..., 0x1f.
pub(crate) fn sample_key_bytes() -> [u8; 32] {
    core::array::from_fn(|i| u8::try_from(i).unwrap_or(0))
}

/// Asserts that a `Debug` rendering reveals none of `key` in the usual
/// spellings: lowercase or uppercase hex, or a decimal/hex byte array.
pub(crate) fn assert_no_key_bytes(rendered: &str, key: &[u8; 32]) {
    let lower = hex::encode(key);
    let upper = hex::encode_upper(key);
    let decimal = format!("{key:?}");
    let hex_array = format!("{key:x?}");
    for needle in [&lower, &upper, &decimal, &hex_array] {
        assert!(
            !rendered.contains(needle.as_str()),
            "Debug output leaks key bytes: {rendered}"
        );
    }
    // Even an 8-byte run of the key, in hex or decimal, must not appear.
    for window in key.windows(8) {
        assert!(!rendered.contains(&hex::encode(window)));
        let joined: Vec<String> = window.iter().map(u8::to_string).collect();
        assert!(!rendered.contains(&joined.join(", ")));
    }
}

/// Deterministic xorshift64* generator, so fuzz-style tests are repeatable.
pub(crate) struct TestRng(u64);

impl TestRng {
    pub(crate) fn new(seed: u64) -> TestRng {
        TestRng(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64().to_le_bytes()[0]).collect()
    }
}
