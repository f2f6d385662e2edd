//! The envelope scenario's results: the printed table, the JSON section and the two
//! targets of issue #13.

use serde_json::json;

use super::local::{MAX_AGE, MAX_MESSAGES};
use super::{Runs, PAYLOAD_BYTES, SLICES};
use crate::cli::Plan;
use crate::cpu::QuietAttempts;
use crate::load::RunStats;
use crate::report::{Section, TargetCheck};
use crate::stats::{median, median_of_ratios, ratio};
use crate::table::Table;
use crate::units::{bytes_per_s, si};

/// Envelope encryption must be at least this many times the server's Encrypt rate...
const GOAL_VS_SERVER: f64 = 20.0;
/// ...and at least this fraction of bare AES-256-GCM's.
const GOAL_VS_BARE: f64 = 0.7;

pub fn section(plan: &Plan, runs: &Runs, quiet: &QuietAttempts, data_keys_fetched: u64) -> Section {
    let server_rounds: Vec<f64> = runs.server.iter().map(RunStats::req_per_s).collect();
    let rounds_of =
        |figure: fn(&RunStats) -> f64| -> Vec<f64> { runs.server.iter().map(figure).collect() };
    let (local, server, bare) = (
        median(&runs.local),
        median(&server_rounds),
        median(&runs.bare),
    );
    // Ratios are medians of each round's pair (measured seconds apart), as elsewhere.
    let vs_server = median_of_ratios(&runs.local, &server_rounds);
    let vs_bare = median_of_ratios(&runs.local, &runs.bare);
    print_table(plan, local, server, bare, vs_server, vs_bare);
    let bytes = PAYLOAD_BYTES as f64;
    let value = json!({
        "payload_bytes": PAYLOAD_BYTES,
        "rounds": plan.rounds,
        "window_secs": plan.duration.as_secs_f64(),
        "warmup_secs": plan.warmup.as_secs_f64(),
        "local_and_bare_slices_per_round": SLICES,
        "local": {
            "measured": "rekey_client::EnvelopeCipher::encrypt(1 KiB, no associated data) with a warm data-key cache, one task on the load runtime, one call after the other",
            "cache_policy": { "max_age_secs": MAX_AGE.as_secs(), "max_messages": MAX_MESSAGES },
            "data_keys_fetched": data_keys_fetched,
            "calls_per_s": local,
            "plaintext_bytes_per_s": local * bytes,
            "rounds_calls_per_s": runs.local,
        },
        "server_encrypt": {
            "measured": "KeyService.Encrypt(1 KiB) against Rekey in this process (embedded default, scoped client token), scenario 1's load generator",
            "connections": plan.connections,
            "in_flight_per_connection": plan.in_flight,
            "server_threads": plan.server_threads,
            "client_threads": plan.client_threads,
            "req_per_s": server,
            "p50_us": median(&rounds_of(RunStats::p50_us)),
            "p99_us": median(&rounds_of(RunStats::p99_us)),
            "rounds_req_per_s": server_rounds,
            "rounds_p99_us": rounds_of(RunStats::p99_us),
        },
        "bare_gcm": {
            "measured": "aes-gcm Aes256Gcm of 1 KiB, fresh random 96-bit nonce per message (rekey_envelope::rng::fill), one output buffer (nonce, ciphertext, tag), one thread",
            "calls_per_s": bare,
            "plaintext_bytes_per_s": bare * bytes,
            "rounds_calls_per_s": runs.bare,
        },
        "ratio_local_vs_server": vs_server,
        "ratio_local_vs_bare": vs_bare,
        "ratio_of_medians_local_vs_server": ratio(local, server),
        "ratio_of_medians_local_vs_bare": ratio(local, bare),
        "other_processes_cores_per_round": runs.others,
        "waited_for_quiet_secs": quiet.waited_secs,
        "discarded_noisy_rounds": quiet.discarded,
    });
    let checks = vec![
        TargetCheck::new(
            "envelope 1 KiB vs server Encrypt",
            "calls/s >= 20x req/s",
            format!("{vs_server:.1}x ({}/s vs {} req/s)", si(local), si(server)),
            vs_server >= GOAL_VS_SERVER,
        ),
        TargetCheck::new(
            "envelope 1 KiB vs bare AES-256-GCM",
            "calls/s >= 0.70x",
            format!("{vs_bare:.2}x ({}/s vs {}/s)", si(local), si(bare)),
            vs_bare >= GOAL_VS_BARE,
        ),
    ];
    Section { value, checks }
}

fn print_table(plan: &Plan, local: f64, server: f64, bare: f64, vs_server: f64, vs_bare: f64) {
    let mut table = Table::new(
        &format!(
            "Envelope encryption of 1 KiB: medians of {} round(s); ratio = envelope / that side, median of per-round ratios",
            plan.rounds
        ),
        &["side", "how", "per second", "plaintext", "ratio"],
    );
    let bytes = PAYLOAD_BYTES as f64;
    table.row(vec![
        "envelope (rekey-client, warm cache)".into(),
        "1 task".into(),
        si(local),
        bytes_per_s(local * bytes),
        "1.00".into(),
    ]);
    table.row(vec![
        "server Encrypt".into(),
        format!("{} conn x {} in flight", plan.connections, plan.in_flight),
        si(server),
        bytes_per_s(server * bytes),
        format!("{vs_server:.1}"),
    ]);
    table.row(vec![
        "bare AES-256-GCM".into(),
        "1 thread".into(),
        si(bare),
        bytes_per_s(bare * bytes),
        format!("{vs_bare:.2}"),
    ]);
    table.print();
}
