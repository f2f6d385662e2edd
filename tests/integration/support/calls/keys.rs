//! KeyService: the data plane and key administration.

use rekey::proto::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, GenerateDataKeyRequest,
    GenerateDataKeyResponse, GetStatusRequest, GetStatusResponse, RewrapRequest, RewrapResponse,
    RollbackRequest, RollbackResponse, RotateRequest, RotateResponse, SignRequest, SignResponse,
    VerifyRequest, VerifyResponse,
};
use tonic::Status;

use super::{expect_ok, reply};
use crate::support::Clients;

/// Encrypt `plaintext` under `key`, without associated data (for clients without typed calls).
pub fn enc_req(key: &str, plaintext: &[u8]) -> EncryptRequest {
    EncryptRequest {
        key_name: key.into(),
        plaintext: plaintext.to_vec(),
        associated_data: Vec::new(),
    }
}

impl Clients {
    pub async fn try_encrypt(
        &mut self,
        key: &str,
        plaintext: &[u8],
    ) -> Result<EncryptResponse, Status> {
        self.try_encrypt_ad(key, plaintext, b"").await
    }

    pub async fn encrypt(&mut self, key: &str, plaintext: &[u8]) -> EncryptResponse {
        expect_ok("Encrypt", self.try_encrypt(key, plaintext).await)
    }

    /// Encrypt with associated data `ad`.
    pub async fn try_encrypt_ad(
        &mut self,
        key: &str,
        plaintext: &[u8],
        ad: &[u8],
    ) -> Result<EncryptResponse, Status> {
        let request = EncryptRequest {
            key_name: key.into(),
            plaintext: plaintext.to_vec(),
            associated_data: ad.to_vec(),
        };
        reply(self.client.encrypt(request).await)
    }

    pub async fn encrypt_ad(&mut self, key: &str, plaintext: &[u8], ad: &[u8]) -> EncryptResponse {
        expect_ok("Encrypt", self.try_encrypt_ad(key, plaintext, ad).await)
    }

    pub async fn try_decrypt(&mut self, ciphertext: &[u8]) -> Result<DecryptResponse, Status> {
        self.try_decrypt_ad(ciphertext, b"").await
    }

    pub async fn decrypt(&mut self, ciphertext: &[u8]) -> DecryptResponse {
        expect_ok("Decrypt", self.try_decrypt(ciphertext).await)
    }

    /// Decrypt with associated data `ad`.
    pub async fn try_decrypt_ad(
        &mut self,
        ciphertext: &[u8],
        ad: &[u8],
    ) -> Result<DecryptResponse, Status> {
        let request = DecryptRequest {
            ciphertext: ciphertext.to_vec(),
            associated_data: ad.to_vec(),
            key_name: String::new(),
        };
        reply(self.client.decrypt(request).await)
    }

    /// Decrypt naming the key the value must be of (needed for a value Vault sealed).
    pub async fn try_decrypt_named(
        &mut self,
        ciphertext: &[u8],
        ad: &[u8],
        key: &str,
    ) -> Result<DecryptResponse, Status> {
        let request = DecryptRequest {
            ciphertext: ciphertext.to_vec(),
            associated_data: ad.to_vec(),
            key_name: key.to_owned(),
        };
        reply(self.client.decrypt(request).await)
    }

    pub async fn decrypt_ad(&mut self, ciphertext: &[u8], ad: &[u8]) -> DecryptResponse {
        expect_ok("Decrypt", self.try_decrypt_ad(ciphertext, ad).await)
    }

    pub async fn generate_data_key(&mut self, key: &str, ad: &[u8]) -> GenerateDataKeyResponse {
        let request = GenerateDataKeyRequest {
            key_name: key.into(),
            associated_data: ad.to_vec(),
        };
        expect_ok(
            "GenerateDataKey",
            reply(self.client.generate_data_key(request).await),
        )
    }

    /// Rewrap `ciphertext` (made with associated data `ad`) under the key's primary.
    pub async fn rewrap(&mut self, ciphertext: &[u8], ad: &[u8]) -> RewrapResponse {
        let request = RewrapRequest {
            ciphertext: ciphertext.to_vec(),
            associated_data: ad.to_vec(),
        };
        expect_ok("Rewrap", reply(self.client.rewrap(request).await))
    }

    pub async fn try_sign(&mut self, key: &str, message: &[u8]) -> Result<SignResponse, Status> {
        let request = SignRequest {
            key_name: key.into(),
            message: message.to_vec(),
        };
        reply(self.client.sign(request).await)
    }

    pub async fn sign(&mut self, key: &str, message: &[u8]) -> SignResponse {
        expect_ok("Sign", self.try_sign(key, message).await)
    }

    pub async fn try_verify(
        &mut self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<VerifyResponse, Status> {
        let request = VerifyRequest {
            message: message.to_vec(),
            signature: signature.to_vec(),
        };
        reply(self.client.verify(request).await)
    }

    pub async fn verify(&mut self, message: &[u8], signature: &[u8]) -> VerifyResponse {
        expect_ok("Verify", self.try_verify(message, signature).await)
    }

    /// The status of `key`.
    pub async fn try_status(&mut self, key: &str) -> Result<GetStatusResponse, Status> {
        let request = GetStatusRequest {
            key_name: key.into(),
        };
        reply(self.client.get_status(request).await)
    }

    pub async fn status(&mut self, key: &str) -> GetStatusResponse {
        expect_ok("GetStatus", self.try_status(key).await)
    }

    /// The status of every key.
    pub async fn status_all(&mut self) -> GetStatusResponse {
        self.status("").await
    }

    async fn try_rotate_with(&mut self, key: &str, force: bool) -> Result<RotateResponse, Status> {
        let request = RotateRequest {
            key_name: key.into(),
            force,
        };
        reply(self.client.rotate(request).await)
    }

    /// Rotate `key` unless it was rotated recently.
    pub async fn try_rotate(&mut self, key: &str) -> Result<RotateResponse, Status> {
        self.try_rotate_with(key, false).await
    }

    pub async fn rotate(&mut self, key: &str) -> RotateResponse {
        expect_ok("Rotate", self.try_rotate(key).await)
    }

    /// Rotate `key` even if it was rotated recently (`force: true`).
    pub async fn try_rotate_forced(&mut self, key: &str) -> Result<RotateResponse, Status> {
        self.try_rotate_with(key, true).await
    }

    pub async fn rotate_forced(&mut self, key: &str) -> RotateResponse {
        expect_ok("Rotate", self.try_rotate_forced(key).await)
    }

    pub async fn try_rollback(&mut self, key: &str) -> Result<RollbackResponse, Status> {
        let request = RollbackRequest {
            key_name: key.into(),
        };
        reply(self.client.rollback(request).await)
    }

    pub async fn rollback(&mut self, key: &str) -> RollbackResponse {
        expect_ok("Rollback", self.try_rollback(key).await)
    }
}
