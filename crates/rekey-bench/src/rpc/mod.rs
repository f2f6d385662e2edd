//! Scenario 1, RPC overhead: Encrypt, Decrypt, GenerateDataKey and Sign at each payload size
//! against Rekey (in process, embedded default) and against the echo baseline, interleaved
//! A/B per cell and round, same connections, concurrency, warm-up and window.
//!
//! `cells` builds the request matrix, `results` turns the rounds into the table, the JSON
//! and the targets.

mod cells;
mod results;

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;
use tokio::runtime::Handle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

pub use self::cells::{
    encrypt_cell, encrypt_request, load_token, payload, selected as selected_cells, Cell,
    ENCRYPTION_KEY,
};
use self::results::CellRuns;
use crate::cli::Plan;
use crate::cpu::{CpuMeter, QuietAttempts};
use crate::echo::EchoServer;
use crate::load::{self, RunStats};
use crate::rekey_server::{listener, InProcess};
use crate::report::Section;
use crate::units::{micros, si};

/// The connections of one server under test, with its name for messages.
pub struct Target {
    pub name: &'static str,
    pub channels: Vec<Channel>,
}

impl Target {
    /// One run of `cell` (warm-up, then `window`), which must answer every request.
    pub async fn run(
        &self,
        plan: &Plan,
        auth: Option<&AsciiMetadataValue>,
        cell: &Cell,
        window: Duration,
    ) -> anyhow::Result<RunStats> {
        let stats = load::run(
            &self.channels,
            plan.in_flight,
            auth,
            &cell.call,
            plan.warmup,
            window,
        )
        .await;
        fail_on_errors(&cell.label(), self.name, &stats)?;
        Ok(stats)
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

/// Rekey under load: the server in process, the load's connections to it, and the client
/// token the load presents (`None` when the server has no authentication).
pub struct RekeyUnderLoad {
    pub server: InProcess,
    pub target: Target,
    pub auth: Option<AsciiMetadataValue>,
}

impl RekeyUnderLoad {
    /// Starts Rekey on the server runtime and opens `--connections` connections to it.
    pub async fn start(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Self> {
        let server = InProcess::start(server_rt, plan.nodelay, |_| {}).await?;
        let target = Target {
            name: "Rekey",
            channels: load::connect(&server.url(), plan.connections).await?,
        };
        let auth = load_token(&target.channels[0], server.admin.as_ref()).await?;
        Ok(Self {
            server,
            target,
            auth,
        })
    }
}

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let RekeyUnderLoad {
        server: rekey,
        target: rekey_target,
        auth,
    } = RekeyUnderLoad::start(plan, server_rt).await?;
    let (cells, signature_len) =
        cells::selected(&rekey_target.channels[0], auth.as_ref(), plan).await?;
    if cells.is_empty() {
        bail!("--only {:?} matches no cell", plan.only);
    }
    let echo = start_echo(server_rt, plan.nodelay, signature_len).await?;
    let echo_target = Target {
        name: "echo",
        channels: load::connect(&format!("http://{}", echo.addr), plan.connections).await?,
    };
    log_setup(plan, auth.is_some());
    let targets = [rekey_target, echo_target];
    warm_up(plan, &targets, auth.as_ref(), &cells).await?;
    let mut quiet = QuietAttempts::new(plan);
    let results = measure_rounds(plan, &targets, auth.as_ref(), &cells, &mut quiet).await?;
    drop(targets);
    echo.stop().await;
    rekey.stop().await?;
    Ok(section(plan, &cells, &results, &quiet, auth.is_some()))
}

/// The echo baseline on the server runtime, with Rekey's message-size limits.
async fn start_echo(
    server_rt: &Handle,
    nodelay: bool,
    signature_len: usize,
) -> anyhow::Result<EchoServer> {
    let max_plaintext_bytes = rekey::config::Config::default()
        .keystore
        .max_plaintext_bytes;
    server_rt
        .spawn(async move {
            EchoServer::start(listener(nodelay)?, max_plaintext_bytes, signature_len).await
        })
        .await
        .context("echo server start panicked")?
}

fn log_setup(plan: &Plan, authenticated: bool) {
    eprintln!(
        "rpc: {} connections x {} in flight, warm-up {:?} + window {:?} per run, {} round(s); listeners {}; auth: {}",
        plan.connections,
        plan.in_flight,
        plan.warmup,
        plan.duration,
        plan.rounds,
        if plan.nodelay { "with TCP_NODELAY" } else { "as rekey serve binds them" },
        if authenticated { "scoped client token" } else { "none (Rekey has no authentication)" }
    );
}

/// Warm-up of every cell on both servers (connections, allocator, caches), not measured;
/// quick mode relies on each run's own warm-up.
async fn warm_up(
    plan: &Plan,
    targets: &[Target; 2],
    auth: Option<&AsciiMetadataValue>,
    cells: &[Cell],
) -> anyhow::Result<()> {
    for cell in cells.iter().filter(|_| !plan.quick) {
        for target in targets {
            target.run(plan, auth, cell, plan.warmup).await?;
        }
    }
    Ok(())
}

/// Every round runs each cell on Rekey then on echo, back to back, measuring the pair again
/// when other processes were busy meanwhile.
async fn measure_rounds(
    plan: &Plan,
    [rekey, echo]: &[Target; 2],
    auth: Option<&AsciiMetadataValue>,
    cells: &[Cell],
    quiet: &mut QuietAttempts,
) -> anyhow::Result<Vec<CellRuns>> {
    let mut results: Vec<CellRuns> = cells.iter().map(|_| CellRuns::default()).collect();
    for round in 1..=plan.rounds {
        for (cell, runs) in cells.iter().zip(results.iter_mut()) {
            for attempt in quiet.numbers() {
                quiet.wait_for_quiet().await;
                let meter = CpuMeter::start();
                let a = rekey.run(plan, auth, cell, plan.duration).await?;
                let b = echo.run(plan, auth, cell, plan.duration).await?;
                let others = meter.others_cores();
                let noisy = quiet.discard_if_noisy(others, attempt);
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
                    continue;
                }
                runs.rekey.runs.push(a);
                runs.echo.runs.push(b);
                runs.rekey.others.push(others);
                break;
            }
        }
    }
    Ok(results)
}

fn section(
    plan: &Plan,
    cells: &[Cell],
    results: &[CellRuns],
    quiet: &QuietAttempts,
    authenticated: bool,
) -> Section {
    let summary = results::summarise(plan, cells, results);
    summary.table.print();
    Section {
        value: json!({
            "server": "rekey::server::start in this process, embedded default (SQLite keystore in a scratch folder), default settings",
            "baseline": "the generated KeyService trait with methods that do no work, same tonic server settings",
            "auth": if authenticated { "bearer client token scoped to TOKEN_ENCRYPTION and API_SIGNATURE, created through AdminService.CreateToken; the echo server receives the same header" } else { "none: the server has no authentication" },
            "listener_nodelay": plan.nodelay,
            "connections": plan.connections,
            "in_flight_per_connection": plan.in_flight,
            "server_threads": plan.server_threads,
            "client_threads": plan.client_threads,
            "rounds": plan.rounds,
            "warmup_secs": plan.warmup.as_secs_f64(),
            "window_secs": plan.duration.as_secs_f64(),
            "waited_for_quiet_secs": quiet.waited_secs,
            "discarded_noisy_pairs": quiet.discarded,
            "cells": summary.cells,
        }),
        checks: summary.checks,
    }
}
