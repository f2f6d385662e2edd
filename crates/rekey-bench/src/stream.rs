//! Scenario 7, stream (issue #15): stream ciphertexts of a large payload (1 GiB; 16 MiB with
//! `--quick`), against the real `rekey serve` binary in its own process:
//!
//! - A: client-side stream encryption through the Rust client (`EnvelopeCipher::
//!   encrypt_writer` into a sink, 1 MiB writes), beside
//! - B: bare AES-256-GCM of the same library (`aes-gcm`, as rekey-envelope uses it) sealing
//!   the same bytes in 64 KiB pieces from the source into an output buffer: the ceiling A can
//!   approach.
//!   Target: A >= 0.8x B; and this process's peak RSS during A < 64 MiB (the kernel's
//!   high-water mark, reset before A through /proc/self/clear_refs).
//! - C: server-side `EncryptStream` of the same length over loopback (1 MiB chunks), with the
//!   server process's peak RSS during C (target < 64 MiB), beside
//! - D: the echo baseline's EncryptStream (each chunk straight back): the transport's ceiling.
//!
//! A breakdown beside A: the `StreamSealer` alone on the same bytes (no async writer, no
//! client), which says whether a gap between A and B is the format's crypto or the writer.
//!
//! Rounds run A and B (in alternating order), then C and D; figures are medians, the A/B ratio
//! the median of per-round ratios.

use std::path::Path;
use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use anyhow::Context;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::EncryptStreamRequest;
use rekey_client::{CachePolicy, Client, StreamOptions};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;
use tokio_stream::StreamExt as _;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::echo::EchoServer;
use crate::footprint::process::{rekey_binary, Server};
use crate::rekey_server::{bearer_from_data_dir, listener, request};
use crate::report::{Section, TargetCheck};
use crate::stats::{median, median_of_ratios};
use crate::table::Table;

const CHUNK: usize = 1 << 20;
const SEGMENT: usize = 64 << 10;
const RSS_LIMIT_MIB: f64 = 64.0;
const RATIO_GOAL: f64 = 0.8;

#[derive(Default)]
struct Runs {
    client_mb_s: Vec<f64>,
    bare_mb_s: Vec<f64>,
    sealer_mb_s: Vec<f64>,
    server_mb_s: Vec<f64>,
    echo_mb_s: Vec<f64>,
    client_peak_mib: Vec<f64>,
    server_peak_mib: Vec<f64>,
}

pub async fn run(plan: &Plan) -> anyhow::Result<Section> {
    let total: usize = if plan.quick { 16 << 20 } else { 1 << 30 };
    let binary = rekey_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-stream-")
        .tempdir()?;
    let (server, _) = Server::start(
        &binary,
        &scratch.path().join("data"),
        &scratch.path().join("rekey.log"),
    )
    .await?;
    let result = measure(plan, total, &server, scratch.path()).await;
    let stopped = server.stop().await;
    let runs = result?;
    stopped?;
    Ok(section(plan, total, &runs))
}

async fn measure(
    plan: &Plan,
    total: usize,
    server: &Server,
    scratch: &Path,
) -> anyhow::Result<Runs> {
    let auth = bearer_from_data_dir(&scratch.join("data"))?;
    let mut builder = Client::builder(server.url.clone());
    if let Some(auth) = &auth {
        let token = auth.to_str()?.strip_prefix("Bearer ").context("bearer")?;
        builder = builder.token(token);
    }
    let client = builder.connect().await.context("rekey-client: connect")?;
    let cipher = client.envelope(
        "FILE_ENCRYPTION",
        CachePolicy::new(std::time::Duration::from_secs(86_400)),
    )?;
    cipher.warm().await?;
    let rekey = Channel::from_shared(server.url.clone())?.connect().await?;
    let echo = EchoServer::start(listener(true)?, 4 << 20, 49).await?;
    let echo_channel = Channel::from_shared(format!("http://{}", echo.addr))?
        .connect()
        .await?;
    let plaintext: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    eprintln!(
        "stream: {} MiB per side, {} round(s): client encrypt_writer | bare AES-256-GCM | server EncryptStream | echo EncryptStream",
        total >> 20,
        plan.rounds
    );
    let mut runs = Runs::default();
    for round in 1..=plan.rounds {
        // A and B swap order every round, so neither always runs on a warmer machine.
        let bare_first = round % 2 == 0;
        let mut bare = if bare_first {
            bare_gcm(&plaintext, total)?
        } else {
            0.0
        };
        reset_peak(std::process::id());
        let started = Instant::now();
        let mut writer = cipher
            .encrypt_writer(tokio::io::sink(), b"bench", StreamOptions::default())
            .await?;
        for _ in 0..total / CHUNK {
            writer.write_all(&plaintext).await?;
        }
        writer.shutdown().await?;
        let client = mb_s(total, started);
        let client_peak = peak_mib(std::process::id())?;
        if !bare_first {
            bare = bare_gcm(&plaintext, total)?;
        }
        let sealer = sealer_alone(&plaintext, total)?;

        reset_peak(server.pid());
        let server_rate = encrypt_stream(rekey.clone(), auth.as_ref(), &plaintext, total).await?;
        let server_peak = peak_mib(server.pid())?;
        let echo_rate = encrypt_stream(echo_channel.clone(), None, &plaintext, total).await?;
        eprintln!(
            "stream round {round}/{}: client {client:.0} MB/s (peak RSS {client_peak:.1} MiB) | sealer alone {sealer:.0} | bare GCM {bare:.0} MB/s | EncryptStream {server_rate:.0} MB/s (server peak RSS {server_peak:.1} MiB) | echo stream {echo_rate:.0} MB/s",
            plan.rounds
        );
        runs.client_mb_s.push(client);
        runs.bare_mb_s.push(bare);
        runs.sealer_mb_s.push(sealer);
        runs.server_mb_s.push(server_rate);
        runs.echo_mb_s.push(echo_rate);
        runs.client_peak_mib.push(client_peak);
        runs.server_peak_mib.push(server_peak);
    }
    echo.stop().await;
    Ok(runs)
}

/// Bare AES-256-GCM over `total` bytes: the 1 MiB source sealed in 64 KiB pieces, one nonce
/// each, from the caller's bytes into an output buffer (a sealer may not overwrite its
/// caller's bytes): the least any stream encryptor does to the same bytes.
fn bare_gcm(plaintext: &[u8], total: usize) -> anyhow::Result<f64> {
    use aes_gcm::aead::inout::InOutBuf;
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut out = vec![0u8; SEGMENT];
    let mut counter = 0u64;
    let started = Instant::now();
    for _ in 0..total / CHUNK {
        for piece in plaintext.chunks(SEGMENT) {
            counter += 1;
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            let inout = InOutBuf::new(piece, &mut out[..piece.len()])
                .map_err(|_| anyhow::anyhow!("buffer lengths"))?;
            let tag = cipher
                .encrypt_inout_detached((&nonce).into(), b"", inout)
                .map_err(|_| anyhow::anyhow!("AES-GCM failed"))?;
            std::hint::black_box((&tag, &out));
        }
    }
    Ok(mb_s(total, started))
}

/// The stream sealer alone on the same bytes: the format's crypto without the async writer.
fn sealer_alone(plaintext: &[u8], total: usize) -> anyhow::Result<f64> {
    let dk = [3u8; 32];
    let wrapped =
        rekey::crypto::EncryptionKey::new(&rekey::crypto::KeyMaterial::from_bytes([1; 32]))
            .encrypt("FILE_ENCRYPTION", 1, &dk, rekey::crypto::DATA_KEY_AAD)?;
    let key = rekey::crypto::DataKey::new("FILE_ENCRYPTION", 1, &dk, wrapped)?;
    let (_, mut sealer) = key.stream_sealer(SEGMENT as u32, b"bench")?;
    let mut out = vec![0u8; SEGMENT + 16];
    let started = Instant::now();
    for _ in 0..total / CHUNK {
        for piece in plaintext.chunks(SEGMENT) {
            sealer.seal_full_segment_into(piece, &mut out)?;
            std::hint::black_box(&out);
        }
    }
    Ok(mb_s(total, started))
}

/// EncryptStream of `total` bytes in 1 MiB chunks, answers read and dropped; MB/s.
async fn encrypt_stream(
    channel: Channel,
    auth: Option<&AsciiMetadataValue>,
    plaintext: &[u8],
    total: usize,
) -> anyhow::Result<f64> {
    let first = EncryptStreamRequest {
        key_name: "FILE_ENCRYPTION".into(),
        ..Default::default()
    };
    let chunk = plaintext.to_vec();
    let requests = tokio_stream::iter(std::iter::once(first).chain((0..total / CHUNK).map(
        move |_| EncryptStreamRequest {
            chunk: chunk.clone(),
            ..Default::default()
        },
    )));
    let mut client = KeyServiceClient::new(channel)
        .max_decoding_message_size(8 << 20)
        .max_encoding_message_size(8 << 20);
    let started = Instant::now();
    let mut answers = client
        .encrypt_stream(request(requests, auth))
        .await
        .context("EncryptStream")?
        .into_inner();
    let mut received = 0usize;
    while let Some(answer) = answers.next().await {
        received += answer.context("EncryptStream answer")?.chunk.len();
    }
    anyhow::ensure!(received >= total, "EncryptStream answered {received} bytes");
    Ok(mb_s(total, started))
}

fn mb_s(bytes: usize, started: Instant) -> f64 {
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// Resets a process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A process's peak RSS since the last reset, in MiB.
fn peak_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("no VmHWM in /proc/<pid>/status")?
        .parse()?;
    Ok(kib / 1024.0)
}

fn section(plan: &Plan, total: usize, runs: &Runs) -> Section {
    let ratio = median_of_ratios(&runs.client_mb_s, &runs.bare_mb_s);
    let client_peak = runs.client_peak_mib.iter().copied().fold(0.0, f64::max);
    let server_peak = runs.server_peak_mib.iter().copied().fold(0.0, f64::max);
    let mut table = Table::new(
        &format!(
            "Streams of {} MiB: medians of {} round(s); peak RSS the highest of the rounds",
            total >> 20,
            plan.rounds
        ),
        &["side", "MB/s", "peak RSS", "ratio"],
    );
    table.row(vec![
        "client encrypt_writer (Rust)".into(),
        format!("{:.0}", median(&runs.client_mb_s)),
        format!("{client_peak:.1} MiB (this process)"),
        format!("{ratio:.2}x bare GCM"),
    ]);
    table.row(vec![
        "  breakdown: StreamSealer alone, no writer".into(),
        format!("{:.0}", median(&runs.sealer_mb_s)),
        String::new(),
        format!(
            "{:.2}x bare GCM",
            median_of_ratios(&runs.sealer_mb_s, &runs.bare_mb_s)
        ),
    ]);
    table.row(vec![
        "bare AES-256-GCM, 64 KiB pieces".into(),
        format!("{:.0}", median(&runs.bare_mb_s)),
        String::new(),
        "1.00".into(),
    ]);
    table.row(vec![
        "server EncryptStream, loopback".into(),
        format!("{:.0}", median(&runs.server_mb_s)),
        format!("{server_peak:.1} MiB (rekey serve)"),
        format!(
            "{:.2}x echo stream",
            median_of_ratios(&runs.server_mb_s, &runs.echo_mb_s)
        ),
    ]);
    table.row(vec![
        "echo EncryptStream (transport)".into(),
        format!("{:.0}", median(&runs.echo_mb_s)),
        String::new(),
        "1.00".into(),
    ]);
    table.print();
    Section {
        value: json!({
            "bytes_per_side": total,
            "rounds": plan.rounds,
            "client_mb_s": runs.client_mb_s,
            "bare_gcm_mb_s": runs.bare_mb_s,
            "sealer_alone_mb_s": runs.sealer_mb_s,
            "server_encrypt_stream_mb_s": runs.server_mb_s,
            "echo_encrypt_stream_mb_s": runs.echo_mb_s,
            "client_peak_rss_mib": runs.client_peak_mib,
            "server_peak_rss_mib": runs.server_peak_mib,
            "client_vs_bare_gcm": ratio,
        }),
        checks: vec![
            TargetCheck::new(
                "client stream encryption vs bare AES-256-GCM",
                ">= 0.8x",
                format!("{ratio:.2}x"),
                ratio >= RATIO_GOAL,
            ),
            TargetCheck::new(
                "client process peak RSS while streaming",
                "< 64 MiB",
                format!("{client_peak:.1} MiB"),
                client_peak < RSS_LIMIT_MIB,
            ),
            TargetCheck::new(
                "server peak RSS during EncryptStream",
                "< 64 MiB",
                format!("{server_peak:.1} MiB"),
                server_peak < RSS_LIMIT_MIB,
            ),
        ],
    }
}
