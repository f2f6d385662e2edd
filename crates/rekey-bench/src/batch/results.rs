//! The batch scenario's results: the printed table, the JSON section and the target of
//! issue #15.

use serde_json::json;

use super::{Runs, ITEMS, PAYLOAD_BYTES};
use crate::cli::Plan;
use crate::cpu::QuietAttempts;
use crate::load::RunStats;
use crate::report::{Section, TargetCheck};
use crate::stats::{median, median_of_ratios};
use crate::table::Table;
use crate::units::{micros, si};

/// DecryptBatch items per second must be at least this many times single Decrypts per second.
const GOAL: f64 = 5.0;

pub fn section(plan: &Plan, runs: &Runs, quiet: &QuietAttempts) -> Section {
    let items_per_s: Vec<f64> = runs
        .batch
        .iter()
        .map(|r| r.req_per_s() * ITEMS as f64)
        .collect();
    let single: Vec<f64> = runs.single.iter().map(RunStats::req_per_s).collect();
    let (items, decrypts) = (median(&items_per_s), median(&single));
    let vs_single = median_of_ratios(&items_per_s, &single);
    let p99 = |side: &[RunStats]| median(&side.iter().map(RunStats::p99_us).collect::<Vec<_>>());
    let (batch_p99, single_p99) = (p99(&runs.batch), p99(&runs.single));

    let mut table = Table::new(
        &format!(
            "Batch decryption of {PAYLOAD_BYTES} B values: medians of {} round(s); ratio = items/s over single Decrypt req/s, median of per-round ratios",
            plan.rounds
        ),
        &["side", "load", "items per second", "p99 per call", "ratio"],
    );
    let load = format!("{} conn x {} in flight", plan.connections, plan.in_flight);
    table.row(vec![
        format!("DecryptBatch of {ITEMS}"),
        load.clone(),
        si(items),
        micros(batch_p99),
        format!("{vs_single:.1}"),
    ]);
    table.row(vec![
        "Decrypt".into(),
        load,
        si(decrypts),
        micros(single_p99),
        "1.0".into(),
    ]);
    table.print();

    let value = json!({
        "items_per_batch": ITEMS,
        "payload_bytes": PAYLOAD_BYTES,
        "rounds": plan.rounds,
        "window_secs": plan.duration.as_secs_f64(),
        "warmup_secs": plan.warmup.as_secs_f64(),
        "connections": plan.connections,
        "in_flight_per_connection": plan.in_flight,
        "server_threads": plan.server_threads,
        "client_threads": plan.client_threads,
        "decrypt_batch": {
            "measured": "KeyService.DecryptBatch of 100 distinct 64 B ciphertexts against Rekey in this process (embedded default, scoped client token), scenario 1's load generator",
            "items_per_s": items,
            "p99_us": batch_p99,
            "rounds_items_per_s": items_per_s,
        },
        "decrypt": {
            "measured": "KeyService.Decrypt of one of those ciphertexts, same load",
            "req_per_s": decrypts,
            "p99_us": single_p99,
            "rounds_req_per_s": single,
        },
        "ratio_items_vs_single": vs_single,
        "other_processes_cores_per_round": runs.others,
        "waited_for_quiet_secs": quiet.waited_secs,
        "discarded_noisy_rounds": quiet.discarded,
    });
    let checks = vec![TargetCheck::new(
        "DecryptBatch 100 x 64 B vs Decrypt 64 B",
        "items/s >= 5x req/s",
        format!(
            "{vs_single:.1}x ({}/s vs {} req/s)",
            si(items),
            si(decrypts)
        ),
        vs_single >= GOAL,
    )];
    Section { value, checks }
}
