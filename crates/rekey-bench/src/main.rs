//! `rekey-bench`: Rekey against its physical limits, each scenario beside its baseline in the
//! same invocation (issue #6, BENCHMARKS.md).
//!
//! ```sh
//! cargo build --release -p rekey-bench -p rekey
//! target/release/rekey-bench --scenario all          # full run, minutes
//! target/release/rekey-bench --quick --scenario rpc  # seconds
//! ```
//!
//! Modules: `cli` options and plan · `meta` the invocation and machine in the JSON ·
//! `echo` the RPC baseline server · `load` the RPC load driver · `rekey_server` Rekey in
//! process · `rpc`, `migration`, `aead`, `envelope`, `batch`, `footprint`, `stream`, `root_key`, `external`, `transit` the ten scenarios · `cpu` what else
//! the machine is doing · `stats` medians and ratios · `units` figures for people ·
//! `table` printed tables · `report` targets and the JSON file.
//!
//! Threads: the in-process servers (Rekey and the echo baseline) run on one multi-thread
//! runtime ("server", 2 workers by default, like `rekey serve` on this 2-core machine); the
//! load generator runs on a separate runtime ("load"), so that neither's scheduler queues
//! the other's tasks. Both still share the machine's cores, identically for A and B.

mod aead;
mod batch;
mod cli;
mod cpu;
mod echo;
mod envelope;
mod external;
mod footprint;
mod load;
mod meta;
mod migration;
mod rekey_server;
mod report;
mod root_key;
mod rpc;
mod stats;
mod stream;
mod table;
mod transit;
mod units;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::runtime::Runtime;

use crate::cli::{Options, Plan, Scenario};
use crate::cpu::CpuMeter;
use crate::report::{Report, Section, Unavailable};

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

/// The two runtimes: the in-process servers on one, the load generator on the other.
struct Runtimes {
    server: Runtime,
    load: Runtime,
}

impl Runtimes {
    fn new(plan: &Plan) -> std::io::Result<Self> {
        Ok(Self {
            server: runtime("server", plan.server_threads)?,
            load: runtime("load", plan.client_threads)?,
        })
    }

    fn shutdown(self) {
        self.load.shutdown_timeout(Duration::from_secs(5));
        self.server.shutdown_timeout(Duration::from_secs(5));
    }
}

fn runtime(thread_name: &str, worker_threads: usize) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .thread_name(thread_name)
        .enable_all()
        .build()
}

/// Runs the selected scenarios; `Ok(false)` when one of them failed (the JSON says which).
fn run(options: &Options, plan: &Plan) -> anyhow::Result<bool> {
    let runtimes = Runtimes::new(plan)?;
    let mut report = Report::new(meta::run_metadata(options, plan));
    // Only a full run skips what cannot run here; a scenario asked for by name must run.
    let skip_unavailable = options.scenario == Scenario::All;
    let started = Instant::now();
    let mut ok = true;
    for scenario in options.scenario.expand() {
        ok &= run_and_record(scenario, plan, &runtimes, &mut report, skip_unavailable);
    }
    report.print_targets();
    report.write_json(&options.json)?;
    println!(
        "\nresults: {} ({:.0} s)",
        options.json.display(),
        started.elapsed().as_secs_f64()
    );
    runtimes.shutdown();
    Ok(ok)
}

/// Runs one scenario under a CPU meter and adds its section (or why it has none) to the
/// report; `false` when it failed.
fn run_and_record(
    scenario: Scenario,
    plan: &Plan,
    runtimes: &Runtimes,
    report: &mut Report,
    skip_unavailable: bool,
) -> bool {
    let name = scenario.name();
    eprintln!("== {name}");
    // PostgreSQL is part of what the migration scenario measures, not noise.
    let meter = if scenario == Scenario::Migration {
        CpuMeter::start_with(&["postgres"])
    } else {
        CpuMeter::start()
    };
    match run_scenario(scenario, plan, runtimes) {
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
            report.add(name, section);
            true
        }
        Err(e) if skip_unavailable && e.downcast_ref::<Unavailable>().is_some() => {
            eprintln!("{name}: skipped: {e}");
            report.add_status(name, "skipped", &e.to_string());
            true
        }
        Err(e) => {
            eprintln!("{name}: failed: {e:#}");
            report.add_status(name, "error", &format!("{e:#}"));
            false
        }
    }
}

fn run_scenario(scenario: Scenario, plan: &Plan, runtimes: &Runtimes) -> anyhow::Result<Section> {
    let server_rt = runtimes.server.handle();
    match scenario {
        Scenario::Rpc => runtimes.load.block_on(rpc::run(plan, server_rt)),
        Scenario::Migration => runtimes.load.block_on(migration::run(plan, server_rt)),
        Scenario::Aead => aead::run(plan),
        Scenario::Envelope => runtimes.load.block_on(envelope::run(plan, server_rt)),
        Scenario::Batch => runtimes.load.block_on(batch::run(plan, server_rt)),
        Scenario::Footprint => runtimes.load.block_on(footprint::run(plan)),
        Scenario::Stream => runtimes.load.block_on(stream::run(plan)),
        Scenario::RootKey => runtimes.load.block_on(root_key::run(plan, server_rt)),
        Scenario::External => runtimes.load.block_on(external::run(plan)),
        Scenario::Transit => runtimes.load.block_on(transit::run(plan)),
        Scenario::All => unreachable!("Scenario::expand never yields All"),
    }
}
