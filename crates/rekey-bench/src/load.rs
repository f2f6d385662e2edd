//! The RPC load driver: several HTTP/2 connections, a fixed number of requests in flight on
//! each, an unmeasured warm-up, then a fixed measured window; throughput and latency
//! percentiles of the requests that started inside the window.

use std::time::{Duration, Instant};

use anyhow::Context;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::{
    DecryptBatchRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, SignRequest,
};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::echo::MESSAGE_OVERHEAD_BYTES;
use crate::rekey_server::request;
use crate::stats::percentile;

/// One request, sent again and again.
#[derive(Clone)]
pub enum Call {
    Encrypt(EncryptRequest),
    Decrypt(DecryptRequest),
    DecryptBatch(DecryptBatchRequest),
    GenerateDataKey(GenerateDataKeyRequest),
    Sign(SignRequest),
}

impl Call {
    pub fn rpc(&self) -> &'static str {
        match self {
            Call::Encrypt(_) => "Encrypt",
            Call::Decrypt(_) => "Decrypt",
            Call::DecryptBatch(_) => "DecryptBatch",
            Call::GenerateDataKey(_) => "GenerateDataKey",
            Call::Sign(_) => "Sign",
        }
    }

    async fn send(
        &self,
        client: &mut KeyServiceClient<Channel>,
        auth: Option<&AsciiMetadataValue>,
    ) -> Result<(), tonic::Status> {
        match self {
            Call::Encrypt(m) => client.encrypt(request(m.clone(), auth)).await.map(drop),
            Call::Decrypt(m) => client.decrypt(request(m.clone(), auth)).await.map(drop),
            Call::DecryptBatch(m) => {
                let answer = client.decrypt_batch(request(m.clone(), auth)).await?;
                // A batch whose items failed is not the work this measures.
                match answer
                    .get_ref()
                    .results
                    .iter()
                    .find_map(|r| match &r.result {
                        Some(rekey::proto::decrypt_batch_result::Result::Error(e)) => Some(e),
                        _ => None,
                    }) {
                    Some(e) => Err(tonic::Status::internal(format!(
                        "a batch item failed: {}",
                        e.message
                    ))),
                    None => Ok(()),
                }
            }
            Call::GenerateDataKey(m) => client
                .generate_data_key(request(m.clone(), auth))
                .await
                .map(drop),
            Call::Sign(m) => client.sign(request(m.clone(), auth)).await.map(drop),
        }
    }
}

/// Opens `count` channels to `url`, each its own HTTP/2 connection.
pub async fn connect(url: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = Endpoint::from_shared(url.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connect to {url}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// A client with limits large enough for any benchmark message.
pub fn client(channel: Channel) -> KeyServiceClient<Channel> {
    let limit = 1024 * 1024 + MESSAGE_OVERHEAD_BYTES;
    KeyServiceClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
}

/// The outcome of one measured run.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub window: Duration,
    /// Latencies of the completed requests, ascending, in microseconds.
    pub latencies_us: Vec<u32>,
}

impl RunStats {
    pub fn req_per_s(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64()
    }

    pub fn p50_us(&self) -> f64 {
        percentile(&self.latencies_us, 0.50)
    }

    pub fn p99_us(&self) -> f64 {
        percentile(&self.latencies_us, 0.99)
    }
}

/// Drives `call` over `channels` with `in_flight` concurrent requests per channel for
/// `warmup + window`; counts the requests answered inside the window (after the warm-up),
/// with their latencies. Every task stops sending when the window closes.
pub async fn run(
    channels: &[Channel],
    in_flight: usize,
    auth: Option<&AsciiMetadataValue>,
    call: &Call,
    warmup: Duration,
    window: Duration,
) -> RunStats {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let mut tasks = Vec::with_capacity(channels.len() * in_flight);
    for channel in channels {
        for _ in 0..in_flight {
            let client = client(channel.clone());
            let call = call.clone();
            let auth = auth.cloned();
            tasks.push(tokio::spawn(async move {
                send_until(client, &call, auth.as_ref(), measure_from, end).await
            }));
        }
    }
    let mut stats = RunStats {
        completed: 0,
        errors: 0,
        first_error: None,
        window,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok(tally) => {
                stats.completed += tally.latencies_us.len() as u64;
                stats.latencies_us.extend(tally.latencies_us);
                stats.errors += tally.errors;
                if stats.first_error.is_none() {
                    stats.first_error = tally.first_error;
                }
            }
            Err(e) => {
                stats.errors += 1;
                stats
                    .first_error
                    .get_or_insert_with(|| format!("load task: {e}"));
            }
        }
    }
    stats.latencies_us.sort_unstable();
    stats
}

/// What one in-flight slot saw: latencies of the requests answered inside the window
/// (unsorted), and the errors.
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

/// One in-flight slot: sends `call` again and again, each as soon as the one before was
/// answered, until `end`; a request counts when its answer arrives in `measure_from..=end`.
async fn send_until(
    mut client: KeyServiceClient<Channel>,
    call: &Call,
    auth: Option<&AsciiMetadataValue>,
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(4096),
        errors: 0,
        first_error: None,
    };
    loop {
        let sent = Instant::now();
        if sent >= end {
            return tally;
        }
        let result = call.send(&mut client, auth).await;
        let done = Instant::now();
        let measured = done >= measure_from && done <= end;
        match result {
            Ok(()) if measured => {
                let us = (done - sent).as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Ok(()) => {}
            Err(status) => {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| format!("{:?}: {}", status.code(), status.message()));
                // An error answer is quick; do not spin on it.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}
