//! Scenario 1's request matrix: each RPC at each payload size, built against a live Rekey
//! server (Decrypt needs its ciphertexts), and the client token the load presents.

use anyhow::Context;
use rekey::proto::{DecryptRequest, EncryptRequest, GenerateDataKeyRequest, SignRequest};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::load::{self, Call};
use crate::rekey_server::{client_token, request};
use crate::units::size_label;

pub const ENCRYPTION_KEY: &str = "TOKEN_ENCRYPTION";
pub const SIGNING_KEY: &str = "API_SIGNATURE";

/// One (rpc, payload size) of the matrix.
#[derive(Clone)]
pub struct Cell {
    pub call: Call,
    pub payload: usize,
}

impl Cell {
    pub fn label(&self) -> String {
        format!("{} {}", self.call.rpc(), size_label(self.payload))
    }
}

/// Deterministic, non-repeating-looking bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(131).wrapping_add(i >> 8) % 251) as u8)
        .collect()
}

/// A client token scoped to the matrix's keys, as the application under load would hold
/// (`None` when the server has no authentication).
pub async fn load_token(
    channel: &Channel,
    admin: Option<&AsciiMetadataValue>,
) -> anyhow::Result<Option<AsciiMetadataValue>> {
    client_token(channel, admin, &[ENCRYPTION_KEY, SIGNING_KEY]).await
}

/// Encrypt of `size` payload bytes under [`ENCRYPTION_KEY`], no associated data: the
/// matrix's Encrypt cell, also the server side of the envelope scenario.
pub fn encrypt_request(size: usize) -> EncryptRequest {
    EncryptRequest {
        key_name: ENCRYPTION_KEY.into(),
        plaintext: payload(size),
        associated_data: Vec::new(),
    }
}

/// The matrix's Encrypt cell at `size` bytes.
pub fn encrypt_cell(size: usize) -> Cell {
    Cell {
        call: Call::Encrypt(encrypt_request(size)),
        payload: size,
    }
}

/// The cells of the matrix that `--only` keeps, and the length of a real signature (for
/// the echo baseline).
pub async fn selected(
    channel: &Channel,
    auth: Option<&AsciiMetadataValue>,
    plan: &Plan,
) -> anyhow::Result<(Vec<Cell>, usize)> {
    let (cells, signature_len) = cells(channel, auth, &plan.rpc_payloads).await?;
    let kept = cells
        .into_iter()
        .filter(|c| plan.keeps(c.call.rpc(), c.payload))
        .collect();
    Ok((kept, signature_len))
}

/// The request matrix: Encrypt `payload` bytes; Decrypt the ciphertext of `payload` bytes;
/// GenerateDataKey with `payload` bytes of associated data (its only variable-size field);
/// Sign `payload` bytes. Also returns the length of a real signature.
async fn cells(
    channel: &Channel,
    auth: Option<&AsciiMetadataValue>,
    payloads: &[usize],
) -> anyhow::Result<(Vec<Cell>, usize)> {
    let mut client = load::client(channel.clone());
    let mut encrypts = Vec::new();
    let mut decrypts = Vec::new();
    let mut data_keys = Vec::new();
    let mut signs = Vec::new();
    for &size in payloads {
        let ciphertext = client
            .encrypt(request(encrypt_request(size), auth))
            .await
            .context("Encrypt (setting up Decrypt)")?
            .into_inner()
            .ciphertext
            .clone();
        let cell = |call| Cell {
            call,
            payload: size,
        };
        encrypts.push(encrypt_cell(size));
        decrypts.push(cell(Call::Decrypt(DecryptRequest {
            ciphertext,
            associated_data: Vec::new(),
            key_name: String::new(),
        })));
        data_keys.push(cell(Call::GenerateDataKey(GenerateDataKeyRequest {
            key_name: ENCRYPTION_KEY.into(),
            associated_data: payload(size),
        })));
        signs.push(cell(Call::Sign(SignRequest {
            key_name: SIGNING_KEY.into(),
            message: payload(size),
        })));
    }
    let signature_len = client
        .sign(request(
            SignRequest {
                key_name: SIGNING_KEY.into(),
                message: b"x".to_vec(),
            },
            auth,
        ))
        .await
        .context("Sign")?
        .into_inner()
        .signature
        .len();
    let all = encrypts
        .into_iter()
        .chain(decrypts)
        .chain(data_keys)
        .chain(signs)
        .collect();
    Ok((all, signature_len))
}
