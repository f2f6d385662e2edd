//! `rekey-bench`: Rekey against its physical limits, each scenario beside its baseline in the
//! same invocation (issue #6, BENCHMARKS.md).
//!
//! ```sh
//! cargo build --release -p rekey-bench -p rekey
//! target/release/rekey-bench --scenario all          # full run, minutes
//! target/release/rekey-bench --quick --scenario rpc  # seconds
//! ```
//!
//! Modules: `cli` options and plan · `echo` the RPC baseline server · `load` the RPC load
//! driver · `rekey_server` Rekey in process · `rpc`, `migration`, `aead`, `footprint` the
//! four scenarios · `report` statistics, tables, targets and JSON.
//!
//! Threads: the in-process servers (Rekey and the echo baseline) run on one multi-thread
//! runtime ("server", 2 workers by default, like `rekey serve` on this 2-core machine); the
//! load generator runs on a separate runtime ("load"), so that neither's scheduler queues
//! the other's tasks. Both still share the machine's cores, identically for A and B.

mod aead;
mod cli;
mod echo;
mod footprint;
mod load;
mod migration;
mod rekey_server;
mod report;
mod rpc;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::{json, Map, Value};

use crate::cli::{Options, Plan, Scenario};
use crate::report::{CpuMeter, Report, Section, Unavailable};

fn main() -> ExitCode {
    let options = Options::parse();
    let plan = options.plan();
    // The same logging as `rekey serve` (stderr, REKEY_LOG or info), so that the in-process
    // server pays for its spans and events as in production.
    rekey::telemetry::init(rekey::telemetry::LogFormat::Text);
    match run(&options, &plan) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rekey-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the selected scenarios; `Ok(false)` when one of them failed (the JSON says which).
fn run(options: &Options, plan: &Plan) -> anyhow::Result<bool> {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.server_threads)
        .thread_name("server")
        .enable_all()
        .build()?;
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads)
        .thread_name("load")
        .enable_all()
        .build()?;

    let mut meta = Map::new();
    meta.insert(
        "command".into(),
        Value::String(std::env::args().collect::<Vec<_>>().join(" ")),
    );
    meta.insert("rekey_version".into(), json!(env!("CARGO_PKG_VERSION")));
    meta.insert("debug_build".into(), json!(cfg!(debug_assertions)));
    meta.insert("quick".into(), json!(plan.quick));
    meta.insert("scenario".into(), json!(options.scenario.name()));
    meta.insert("rounds".into(), json!(plan.rounds));
    meta.insert("duration_secs".into(), json!(plan.duration.as_secs_f64()));
    meta.insert(
        "started_unix".into(),
        json!(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)),
    );
    meta.insert("machine".into(), report::machine());
    let mut report = Report::new(meta);

    let selected: Vec<Scenario> = match options.scenario {
        Scenario::All => vec![
            Scenario::Rpc,
            Scenario::Migration,
            Scenario::Aead,
            Scenario::Footprint,
        ],
        one => vec![one],
    };
    let all = options.scenario == Scenario::All;
    let started = Instant::now();
    let mut ok = true;
    for scenario in selected {
        let name = scenario.name();
        eprintln!("== {name}");
        // PostgreSQL is part of what the migration scenario measures, not noise.
        let meter = if scenario == Scenario::Migration {
            CpuMeter::start_with(&["postgres"])
        } else {
            CpuMeter::start()
        };
        let result: anyhow::Result<Section> = match scenario {
            Scenario::Rpc => load_rt.block_on(rpc::run(plan, server_rt.handle())),
            Scenario::Migration => load_rt.block_on(migration::run(plan, server_rt.handle())),
            Scenario::Aead => aead::run(plan),
            Scenario::Footprint => load_rt.block_on(footprint::run(plan)),
            Scenario::All => unreachable!("expanded above"),
        };
        match result {
            Ok(mut section) => {
                let cpu = meter.finish();
                println!(
                    "({name}: {:.0} s; other processes kept {:.2} cores busy on average)",
                    cpu["wall_secs"].as_f64().unwrap_or(0.0),
                    cpu["other_processes_avg_cores"].as_f64().unwrap_or(0.0)
                );
                if let Some(object) = section.value.as_object_mut() {
                    object.insert("cpu".into(), cpu);
                }
                report.add(name, section)
            }
            Err(e) if all && e.downcast_ref::<Unavailable>().is_some() => {
                eprintln!("{name}: skipped: {e}");
                report.add_status(name, "skipped", &e.to_string());
            }
            Err(e) => {
                eprintln!("{name}: failed: {e:#}");
                report.add_status(name, "error", &format!("{e:#}"));
                ok = false;
            }
        }
    }
    report.print_targets();
    report.write_json(&options.json)?;
    println!(
        "\nresults: {} ({:.0} s)",
        options.json.display(),
        started.elapsed().as_secs_f64()
    );
    load_rt.shutdown_timeout(std::time::Duration::from_secs(5));
    server_rt.shutdown_timeout(std::time::Duration::from_secs(5));
    Ok(ok)
}
