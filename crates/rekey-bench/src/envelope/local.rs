//! Side A of the envelope scenario: local envelope encryption through the Rust client
//! (`rekey_client::EnvelopeCipher::encrypt`) with a warm data-key cache, as an application
//! encrypting records would call it, against the Rekey server of side B.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey_client::{CachePolicy, Client, EnvelopeCipher};
use tonic::metadata::AsciiMetadataValue;

use super::Tally;
use crate::rpc::ENCRYPTION_KEY;

/// Longer than any run of the scenario: the cached data key never expires while measured.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Far above what a run encrypts (a few million messages per window): no window hits it.
pub const MAX_MESSAGES: u64 = 1 << 40;

/// The client and its envelope cipher under `TOKEN_ENCRYPTION`, cache warmed.
pub struct LocalEnvelope {
    cipher: EnvelopeCipher,
    _client: Client,
}

impl LocalEnvelope {
    /// Connects the Rust client to `url` with the load's token and warms the cache (one
    /// GenerateDataKey), so that no measured call waits for the server.
    pub async fn connect(url: &str, auth: Option<&AsciiMetadataValue>) -> anyhow::Result<Self> {
        let mut builder = Client::builder(url);
        if let Some(auth) = auth {
            builder = builder.token(bearer_secret(auth)?);
        }
        let client = builder.connect().await.context("rekey-client: connect")?;
        let cipher = client
            .envelope(
                ENCRYPTION_KEY,
                CachePolicy::new(MAX_AGE).max_messages(MAX_MESSAGES),
            )
            .context("rekey-client: envelope")?;
        cipher.warm().await.context("rekey-client: warm()")?;
        Ok(Self {
            cipher,
            _client: client,
        })
    }

    /// Data keys fetched from the server so far (the cache's misses on the encrypt side).
    pub fn data_keys_fetched(&self) -> u64 {
        self.cipher.stats().encrypt_misses
    }

    /// Envelope encryptions over about `window`, by one task on the current runtime (the
    /// load runtime); fails if the cache had to fetch a data key meanwhile, since that would
    /// not be the warm path this measures.
    pub async fn encrypt_for(
        &self,
        plaintext: &Arc<Vec<u8>>,
        window: Duration,
    ) -> anyhow::Result<Tally> {
        let fetched = self.data_keys_fetched();
        let cipher = self.cipher.clone();
        let plaintext = Arc::clone(plaintext);
        let tally = tokio::spawn(async move { encrypt_loop(&cipher, &plaintext, window).await })
            .await
            .context("envelope task panicked")??;
        let during = self.data_keys_fetched() - fetched;
        if during > 0 {
            bail!("the data-key cache fetched {during} data key(s) during the window: not warm");
        }
        Ok(tally)
    }
}

async fn encrypt_loop(
    cipher: &EnvelopeCipher,
    plaintext: &[u8],
    window: Duration,
) -> anyhow::Result<Tally> {
    let mut calls: u64 = 0;
    let start = Instant::now();
    loop {
        // Check the clock every CHUNK calls, never per call.
        for _ in 0..super::CHUNK {
            let sealed = cipher
                .encrypt(black_box(plaintext), b"")
                .await
                .context("EnvelopeCipher::encrypt")?;
            black_box(sealed);
        }
        calls += super::CHUNK;
        let elapsed = start.elapsed();
        if elapsed >= window {
            return Ok(Tally { calls, elapsed });
        }
    }
}

/// The token inside an `authorization: Bearer <token>` value, as the client wants it.
fn bearer_secret(auth: &AsciiMetadataValue) -> anyhow::Result<String> {
    let value = auth.to_str().context("authorization value is not text")?;
    value
        .strip_prefix("Bearer ")
        .map(str::to_owned)
        .context("authorization value is not a bearer token")
}
