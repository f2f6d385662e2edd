//! The single entry point to the operating system's CSPRNG.
//!
//! Everything random in this module (key material, AES-GCM nonces, key
//! wrapping nonces) comes from here, so there is exactly one place that
//! decides what happens when the OS cannot provide randomness.

/// Fills `buf` from the OS CSPRNG (`getrandom`).
///
/// # Panics
/// Only if the operating system's random number generator itself fails
/// (e.g. no `getrandom(2)` and no readable `/dev/urandom`). Continuing without
/// randomness would mean predictable keys or repeated GCM nonces, which is
/// far worse than stopping the process, and no caller could recover anyway.
pub fn fill(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {err}");
    }
}
