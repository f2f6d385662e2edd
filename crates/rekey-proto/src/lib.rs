//! Generated protobuf types and gRPC stubs for `rekey.v1`, plus the hand-written parts that
//! keep secrets out of logs: messages carrying plaintext or key bytes have a redacting `Debug`
//! (the derived one is skipped in `build.rs`) and wipe those bytes when dropped.

use std::fmt;

use zeroize::Zeroize;

#[allow(clippy::all, unreachable_pub, missing_docs)]
mod generated {
    tonic::include_proto!("rekey.v1");
}

pub use generated::*;

/// Encoded `FileDescriptorSet` of every Rekey proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/rekey_descriptor.bin"));

/// Writes `<N bytes redacted>` for a secret field.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

impl fmt::Debug for EncryptRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("key_name", &self.key_name)
            .field("plaintext", &Redacted(self.plaintext.len()))
            .field("associated_data", &Redacted(self.associated_data.len()))
            .finish()
    }
}

impl fmt::Debug for DecryptResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptResponse")
            .field("plaintext", &Redacted(self.plaintext.len()))
            .field("key_name", &self.key_name)
            .field("key_version", &self.key_version)
            .finish()
    }
}

impl fmt::Debug for GenerateDataKeyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenerateDataKeyResponse")
            .field("plaintext_key", &Redacted(self.plaintext_key.len()))
            .field("wrapped_key", &Redacted(self.wrapped_key.len()))
            .field("key_version", &self.key_version)
            .finish()
    }
}

impl fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignRequest")
            .field("key_name", &self.key_name)
            .field("message", &Redacted(self.message.len()))
            .finish()
    }
}

impl fmt::Debug for CreateTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateTokenResponse")
            .field("token", &Redacted(self.token.len()))
            .field("info", &self.info)
            .finish()
    }
}

impl Drop for CreateTokenResponse {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

impl Drop for EncryptRequest {
    fn drop(&mut self) {
        self.plaintext.zeroize();
    }
}

impl Drop for DecryptResponse {
    fn drop(&mut self) {
        self.plaintext.zeroize();
    }
}

impl Drop for GenerateDataKeyResponse {
    fn drop(&mut self) {
        self.plaintext_key.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secret_bytes() {
        let request = EncryptRequest {
            key_name: "TOKEN_ENCRYPTION".into(),
            plaintext: b"hunter2-credit-card".to_vec(),
            associated_data: b"user-42".to_vec(),
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("TOKEN_ENCRYPTION"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104, 117"), "{shown}"); // "hu" as a byte list
        assert!(shown.contains("<19 bytes redacted>"), "{shown}");

        let response = GenerateDataKeyResponse {
            plaintext_key: vec![0xAB; 32],
            wrapped_key: vec![1; 60],
            key_version: 3,
        };
        let shown = format!("{response:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("key_version: 3"), "{shown}");
    }
}
