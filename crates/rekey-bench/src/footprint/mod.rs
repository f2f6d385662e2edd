//! Scenario 4, footprint: the real `rekey serve` process (the binary beside this one) on the
//! embedded default — time from spawning it to gRPC health SERVING (first start on an empty
//! data folder, and restart on the same folder), and its resident memory at idle and under
//! the load of scenario 1.
//!
//! `process` spawns and stops the server, `health` probes it, `memory` reads its RSS.

mod health;
mod memory;
pub mod process;

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use self::memory::Memory;
use self::process::{rekey_binary, Server};
use crate::cli::Plan;
use crate::report::{Section, TargetCheck};
use crate::stats::median;
use crate::table::Table;
use crate::units::mib;

const RSS_TARGET_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
const START_TARGET_MS: f64 = 300.0;

/// Milliseconds from spawn to SERVING of each start.
struct Starts {
    /// On an empty data folder.
    first: Vec<f64>,
    /// On the folder the first start left.
    restart: Vec<f64>,
}

/// Milliseconds of one health Check against the running server.
struct HealthRoundTrips {
    one_connection: Vec<f64>,
    new_connection: Vec<f64>,
}

pub async fn run(plan: &Plan) -> anyhow::Result<Section> {
    let binary = rekey_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-footprint-")
        .tempdir()?;
    let (starts, server) = measure_starts(plan, &binary, scratch.path()).await?;
    let probes = if plan.quick { 5 } else { 20 };
    let one_connection = health::round_trips_on_one_connection(&server.url, probes).await;
    let new_connection = health::round_trips_on_new_connections(&server.url, probes).await;
    let memory = memory::measure(plan, &server).await;
    // Stop the server whatever the measurement gave, then report the first failure.
    let stopped = server.stop().await;
    let memory = memory?;
    stopped?;
    let health = HealthRoundTrips {
        one_connection: one_connection?,
        new_connection,
    };
    print_table(&starts, &health, &memory);
    Ok(Section {
        value: section_json(&binary, &starts, &health, &memory),
        checks: checks(&starts, &memory),
    })
}

/// `footprint_starts` pairs of a first start and a restart, each on a new data folder; the
/// last restarted server is kept running for the rest of the scenario.
async fn measure_starts(
    plan: &Plan,
    binary: &Path,
    scratch: &Path,
) -> anyhow::Result<(Starts, Server)> {
    let log = scratch.join("rekey.log");
    let mut starts = Starts {
        first: Vec::new(),
        restart: Vec::new(),
    };
    let mut kept = None;
    for i in 0..plan.footprint_starts {
        let data_dir = scratch.join(format!("data-{i}"));
        let (server, first) = Server::start(binary, &data_dir, &log).await?;
        server.stop().await?;
        let (server, again) = Server::start(binary, &data_dir, &log).await?;
        eprintln!(
            "footprint start {}/{}: first start {:.0} ms, restart {:.0} ms to SERVING",
            i + 1,
            plan.footprint_starts,
            first.as_secs_f64() * 1e3,
            again.as_secs_f64() * 1e3
        );
        starts.first.push(first.as_secs_f64() * 1e3);
        starts.restart.push(again.as_secs_f64() * 1e3);
        if i + 1 == plan.footprint_starts {
            kept = Some(server);
        } else {
            server.stop().await?;
        }
    }
    Ok((starts, kept.context("no server started")?))
}

fn print_table(starts: &Starts, health: &HealthRoundTrips, memory: &Memory) {
    let mut table = Table::new(
        "Footprint of `rekey serve` (embedded default, separate process)",
        &["measure", "value"],
    );
    table.row(vec![
        format!(
            "start to SERVING, first start (median of {})",
            starts.first.len()
        ),
        format!("{:.0} ms", median(&starts.first)),
    ]);
    table.row(vec![
        format!(
            "start to SERVING, restart (median of {})",
            starts.restart.len()
        ),
        format!("{:.0} ms", median(&starts.restart)),
    ]);
    table.row(vec![
        "one health Check on a running server, one connection (median)".into(),
        format!("{:.1} ms", median(&health.one_connection)),
    ]);
    table.row(vec![
        "one health Check on a new connection, as the start probe does (median)".into(),
        format!("{:.1} ms", median(&health.new_connection)),
    ]);
    table.row(vec!["RSS idle".into(), mib(memory.idle as f64)]);
    table.row(vec![
        "RSS under scenario-1 load (peak sample)".into(),
        mib(memory.peak_under_load as f64),
    ]);
    table.row(vec!["VmHWM after load".into(), mib(memory.hwm as f64)]);
    table.row(vec![
        "RSS idle after load".into(),
        mib(memory.idle_after_load as f64),
    ]);
    table.print();
}

fn checks(starts: &Starts, memory: &Memory) -> Vec<TargetCheck> {
    let (peak, hwm) = (memory.peak_under_load as f64, memory.hwm as f64);
    let first = median(&starts.first);
    let restart = median(&starts.restart);
    vec![
        TargetCheck::new(
            "RSS under load",
            "< 64 MiB",
            format!("{} (peak sample), VmHWM {}", mib(peak), mib(hwm)),
            peak < RSS_TARGET_BYTES && hwm < RSS_TARGET_BYTES,
        ),
        TargetCheck::new(
            "start to SERVING (first start)",
            "< 300 ms",
            format!("{first:.0} ms"),
            first < START_TARGET_MS,
        ),
        TargetCheck::new(
            "start to SERVING (restart)",
            "< 300 ms",
            format!("{restart:.0} ms"),
            restart < START_TARGET_MS,
        ),
    ]
}

fn section_json(
    binary: &Path,
    starts: &Starts,
    health: &HealthRoundTrips,
    memory: &Memory,
) -> serde_json::Value {
    json!({
        "binary": binary.display().to_string(),
        "command": "rekey serve --listen 127.0.0.1:<free port> --data-dir <scratch>, REKEY_* unset but REKEY_HTTP_LISTEN=127.0.0.1:0, logs to a file",
        "start_to_serving_ms": {
            "first_start": median(&starts.first),
            "restart": median(&starts.restart),
            "first_start_rounds": starts.first,
            "restart_rounds": starts.restart,
            "measured": "spawn() to the first grpc.health.v1 Check(rekey.v1.KeyService) answering SERVING; a new probe on a new connection every 2 ms, not waiting for earlier ones",
        },
        "health_check_round_trip_ms": {
            "median": median(&health.one_connection),
            "rounds": health.one_connection,
            "measured": "sequential grpc.health.v1 Check calls over one connection to the running server",
        },
        "health_check_new_connection_ms": {
            "median": median(&health.new_connection),
            "rounds": health.new_connection,
            "measured": "connect, HTTP/2 handshake and one Check, as the start-to-SERVING probe does it, against the running server",
        },
        "rss_idle_bytes": memory.idle,
        "rss_under_load_bytes": memory.peak_under_load,
        "vm_hwm_bytes": memory.hwm,
        "rss_idle_after_load_bytes": memory.idle_after_load,
        "load": memory.load,
    })
}
