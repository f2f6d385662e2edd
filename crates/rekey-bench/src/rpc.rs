//! Scenario 1, RPC overhead: Encrypt, Decrypt, GenerateDataKey and Sign at each payload size
//! against Rekey (in process, embedded default) and against the echo baseline, interleaved
//! A/B per cell and round, same connections, concurrency, warm-up and window.

use anyhow::{bail, Context};
use rekey::proto::{DecryptRequest, EncryptRequest, GenerateDataKeyRequest, SignRequest};
use serde_json::{json, Value};
use tokio::runtime::Handle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::echo::EchoServer;
use crate::load::{self, Call, RunStats};
use crate::rekey_server::{client_token, listener, request, InProcess};
use crate::report::{
    median, micros, ratio, si, size_label, wait_for_quiet, CpuMeter, Section, Table, TargetCheck,
    NOISY_CORES,
};

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

/// The request matrix, built against a live Rekey server (Decrypt needs its ciphertexts):
/// Encrypt `payload` bytes; Decrypt the ciphertext of `payload` bytes; GenerateDataKey with
/// `payload` bytes of associated data (its only variable-size field); Sign `payload` bytes.
/// Also returns the length of a real signature, for the echo baseline.
pub async fn cells(
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
        let encrypt = EncryptRequest {
            key_name: ENCRYPTION_KEY.into(),
            plaintext: payload(size),
            associated_data: Vec::new(),
        };
        let ciphertext = client
            .encrypt(request(encrypt.clone(), auth))
            .await
            .context("Encrypt (setting up Decrypt)")?
            .into_inner()
            .ciphertext
            .clone();
        encrypts.push(Cell {
            call: Call::Encrypt(encrypt),
            payload: size,
        });
        decrypts.push(Cell {
            call: Call::Decrypt(DecryptRequest {
                ciphertext,
                associated_data: Vec::new(),
            }),
            payload: size,
        });
        data_keys.push(Cell {
            call: Call::GenerateDataKey(GenerateDataKeyRequest {
                key_name: ENCRYPTION_KEY.into(),
                associated_data: payload(size),
            }),
            payload: size,
        });
        signs.push(Cell {
            call: Call::Sign(SignRequest {
                key_name: SIGNING_KEY.into(),
                message: payload(size),
            }),
            payload: size,
        });
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

/// Medians over the rounds of one side of one cell.
struct Side {
    runs: Vec<RunStats>,
    /// Cores other processes kept busy during each round's A/B pair.
    others: Vec<f64>,
}

impl Side {
    fn req_per_s(&self) -> f64 {
        median(
            &self
                .runs
                .iter()
                .map(RunStats::req_per_s)
                .collect::<Vec<_>>(),
        )
    }
    fn p50(&self) -> f64 {
        median(&self.runs.iter().map(RunStats::p50_us).collect::<Vec<_>>())
    }
    fn p99(&self) -> f64 {
        median(&self.runs.iter().map(RunStats::p99_us).collect::<Vec<_>>())
    }
    fn to_json(&self) -> Value {
        json!({
            "req_per_s": self.req_per_s(),
            "p50_us": self.p50(),
            "p99_us": self.p99(),
            "rounds_req_per_s": self.runs.iter().map(RunStats::req_per_s).collect::<Vec<_>>(),
            "rounds_p50_us": self.runs.iter().map(RunStats::p50_us).collect::<Vec<_>>(),
            "rounds_p99_us": self.runs.iter().map(RunStats::p99_us).collect::<Vec<_>>(),
        })
    }
}

fn fail_on_errors(label: &str, server: &str, stats: &RunStats) -> anyhow::Result<()> {
    if stats.errors > 0 {
        bail!(
            "{label} against {server}: {} errors, first: {}",
            stats.errors,
            stats.first_error.as_deref().unwrap_or("?")
        );
    }
    if stats.completed == 0 {
        bail!("{label} against {server}: no request completed in the window");
    }
    Ok(())
}

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let rekey = InProcess::start(server_rt, plan.nodelay, |_| {}).await?;
    let rekey_channels = load::connect(&rekey.url(), plan.connections).await?;
    let auth = client_token(
        &rekey_channels[0],
        rekey.admin.as_ref(),
        &[ENCRYPTION_KEY, SIGNING_KEY],
    )
    .await?;
    let (cells, signature_len) =
        cells(&rekey_channels[0], auth.as_ref(), &plan.rpc_payloads).await?;
    let cells: Vec<Cell> = cells
        .into_iter()
        .filter(|c| plan.keeps(c.call.rpc(), c.payload))
        .collect();
    if cells.is_empty() {
        bail!("--only {:?} matches no cell", plan.only);
    }
    let max_plaintext_bytes = rekey::config::Config::default()
        .keystore
        .max_plaintext_bytes;
    let nodelay = plan.nodelay;
    let echo = server_rt
        .spawn(async move {
            EchoServer::start(listener(nodelay)?, max_plaintext_bytes, signature_len).await
        })
        .await
        .context("echo server start panicked")??;
    let echo_channels = load::connect(&format!("http://{}", echo.addr), plan.connections).await?;

    eprintln!(
        "rpc: {} connections x {} in flight, warm-up {:?} + window {:?} per run, {} round(s); listeners {}; auth: {}",
        plan.connections,
        plan.in_flight,
        plan.warmup,
        plan.duration,
        plan.rounds,
        if plan.nodelay { "with TCP_NODELAY" } else { "as rekey serve binds them" },
        if auth.is_some() { "scoped client token" } else { "none (Rekey has no authentication)" }
    );
    // Warm-up of every cell on both servers (connections, allocator, caches), not measured;
    // quick mode relies on each run's own warm-up.
    for cell in cells.iter().filter(|_| !plan.quick) {
        for (channels, server) in [(&rekey_channels, "Rekey"), (&echo_channels, "echo")] {
            let stats = load::run(
                channels,
                plan.in_flight,
                auth.as_ref(),
                &cell.call,
                plan.warmup,
                plan.warmup,
            )
            .await;
            fail_on_errors(&cell.label(), server, &stats)?;
        }
    }

    let mut results: Vec<(Side, Side)> = cells
        .iter()
        .map(|_| {
            (
                Side {
                    runs: Vec::new(),
                    others: Vec::new(),
                },
                Side {
                    runs: Vec::new(),
                    others: Vec::new(),
                },
            )
        })
        .collect();
    let mut waited = 0.0;
    let mut discarded = 0u32;
    for round in 1..=plan.rounds {
        for (cell, (rekey_side, echo_side)) in cells.iter().zip(results.iter_mut()) {
            for attempt in 1..=plan.attempts {
                waited += wait_for_quiet(plan.quiet_wait).await;
                let meter = CpuMeter::start();
                let a = load::run(
                    &rekey_channels,
                    plan.in_flight,
                    auth.as_ref(),
                    &cell.call,
                    plan.warmup,
                    plan.duration,
                )
                .await;
                fail_on_errors(&cell.label(), "Rekey", &a)?;
                let b = load::run(
                    &echo_channels,
                    plan.in_flight,
                    auth.as_ref(),
                    &cell.call,
                    plan.warmup,
                    plan.duration,
                )
                .await;
                fail_on_errors(&cell.label(), "echo", &b)?;
                let others = meter.others_cores();
                let noisy = others > NOISY_CORES && attempt < plan.attempts;
                eprintln!(
                    "rpc round {round}/{}: {:<22} Rekey {:>8} req/s p99 {:>8} | echo {:>8} req/s p99 {:>8} | other processes {others:.2} cores{}",
                    plan.rounds,
                    cell.label(),
                    si(a.req_per_s()),
                    micros(a.p99_us()),
                    si(b.req_per_s()),
                    micros(b.p99_us()),
                    if noisy { " -> discarded, again" } else { "" },
                );
                if noisy {
                    discarded += 1;
                    continue;
                }
                rekey_side.runs.push(a);
                echo_side.runs.push(b);
                rekey_side.others.push(others);
                break;
            }
        }
    }
    drop(rekey_channels);
    drop(echo_channels);
    echo.stop().await;
    rekey.stop().await?;

    let mut table = Table::new(
        &format!(
            "RPC overhead: medians of {} round(s), {} connections x {} in flight; ratios Rekey/echo, median of per-round pairs{}",
            plan.rounds,
            plan.connections,
            plan.in_flight,
            if plan.nodelay { ", listeners with TCP_NODELAY" } else { "" }
        ),
        &[
            "rpc",
            "payload",
            "Rekey req/s",
            "echo req/s",
            "ratio",
            "Rekey p50",
            "echo p50",
            "Rekey p99",
            "echo p99",
            "p99 ratio",
        ],
    );
    let mut json_cells = Vec::new();
    let mut checks = Vec::new();
    for (cell, (a, b)) in cells.iter().zip(&results) {
        // Ratios are the medians of each round's A/B pair (measured seconds apart), which
        // cancels slow drift in what else the machine is doing.
        let paired = |f: fn(&RunStats) -> f64| {
            median(
                &a.runs
                    .iter()
                    .zip(&b.runs)
                    .map(|(x, y)| ratio(f(x), f(y)))
                    .collect::<Vec<_>>(),
            )
        };
        let throughput = paired(RunStats::req_per_s);
        let p50 = paired(RunStats::p50_us);
        let p99 = paired(RunStats::p99_us);
        table.row(vec![
            cell.call.rpc().to_owned(),
            size_label(cell.payload),
            si(a.req_per_s()),
            si(b.req_per_s()),
            format!("{throughput:.2}"),
            micros(a.p50()),
            micros(b.p50()),
            micros(a.p99()),
            micros(b.p99()),
            format!("{p99:.2}"),
        ]);
        json_cells.push(json!({
            "rpc": cell.call.rpc(),
            "payload_bytes": cell.payload,
            "rekey": a.to_json(),
            "echo": b.to_json(),
            "ratio_req_per_s": throughput,
            "ratio_p50": p50,
            "ratio_p99": p99,
            "other_processes_cores_per_round": a.others,
            "ratio_of_medians_req_per_s": ratio(a.req_per_s(), b.req_per_s()),
            "ratio_of_medians_p99": ratio(a.p99(), b.p99()),
        }));
        if cell.payload == 1024 && !matches!(cell.call, Call::Sign(_)) {
            checks.push(TargetCheck::new(
                format!("{} 1 KiB vs echo", cell.call.rpc()),
                "req/s >= 0.90x, p99 <= 1.2x",
                format!("{throughput:.2}x req/s, {p99:.2}x p99"),
                throughput >= 0.90 && p99 <= 1.2,
            ));
        }
    }
    table.print();
    Ok(Section {
        value: json!({
            "server": "rekey::server::start in this process, embedded default (SQLite keystore in a scratch folder), default settings",
            "baseline": "the generated KeyService trait with methods that do no work, same tonic server settings",
            "auth": if auth.is_some() { "bearer client token scoped to TOKEN_ENCRYPTION and API_SIGNATURE, created through AdminService.CreateToken; the echo server receives the same header" } else { "none: the server has no authentication" },
            "listener_nodelay": plan.nodelay,
            "connections": plan.connections,
            "in_flight_per_connection": plan.in_flight,
            "server_threads": plan.server_threads,
            "client_threads": plan.client_threads,
            "rounds": plan.rounds,
            "warmup_secs": plan.warmup.as_secs_f64(),
            "window_secs": plan.duration.as_secs_f64(),
            "waited_for_quiet_secs": waited,
            "discarded_noisy_pairs": discarded,
            "cells": json_cells,
        }),
        checks,
    })
}
