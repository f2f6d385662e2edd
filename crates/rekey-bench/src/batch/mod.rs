//! Scenario 5, batch (issue #15): what one DecryptBatch of many small values buys over one
//! Decrypt per value. Two sides, interleaved A/B per round, with scenario 1's load generator
//! and settings (`--connections` x `--in-flight`) against the same Rekey in process:
//!
//! - A: DecryptBatch of [`ITEMS`] ciphertexts of [`PAYLOAD_BYTES`] each (100 distinct values
//!   made by Encrypt), items per second = requests per second x [`ITEMS`];
//! - B: Decrypt of one such ciphertext, requests per second.
//!
//! Target: A's items/s >= 5x B's req/s (the per-call cost the batch spreads over its items).
//! `results` turns the rounds into the table, the JSON and the target.

mod results;

use anyhow::Context;
use rekey::proto::{DecryptBatchRequest, DecryptRequest};
use tokio::runtime::Handle;

use crate::cli::Plan;
use crate::cpu::{CpuMeter, QuietAttempts};
use crate::load::{self, Call, RunStats};
use crate::rekey_server::request;
use crate::report::Section;
use crate::rpc::{encrypt_request, Cell, RekeyUnderLoad};
use crate::units::si;

/// Items in each DecryptBatch.
pub const ITEMS: usize = 100;
/// Plaintext bytes of each item (and of the single Decrypt).
pub const PAYLOAD_BYTES: usize = 64;

/// Every round's figure of each side.
#[derive(Default)]
pub struct Runs {
    /// A: the load generator's run of DecryptBatch (requests; each carries ITEMS items).
    pub batch: Vec<RunStats>,
    /// B: the load generator's run of single Decrypts.
    pub single: Vec<RunStats>,
    /// Cores other processes kept busy during each round's A/B.
    pub others: Vec<f64>,
}

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let RekeyUnderLoad {
        server,
        target,
        auth,
    } = RekeyUnderLoad::start(plan, server_rt).await?;
    let mut client = load::client(target.channels[0].clone());
    let mut ciphertexts = Vec::with_capacity(ITEMS);
    for _ in 0..ITEMS {
        let sealed = client
            .encrypt(request(encrypt_request(PAYLOAD_BYTES), auth.as_ref()))
            .await
            .context("Encrypt (setting up the batch)")?;
        ciphertexts.push(sealed.into_inner().ciphertext.clone());
    }
    let item = |ciphertext: &Vec<u8>| DecryptRequest {
        ciphertext: ciphertext.clone(),
        associated_data: Vec::new(),
        key_name: String::new(),
    };
    let batch = Cell {
        call: Call::DecryptBatch(DecryptBatchRequest {
            items: ciphertexts.iter().map(item).collect(),
        }),
        payload: PAYLOAD_BYTES,
    };
    let single = Cell {
        call: Call::Decrypt(item(&ciphertexts[0])),
        payload: PAYLOAD_BYTES,
    };
    eprintln!(
        "batch: DecryptBatch of {ITEMS} x {PAYLOAD_BYTES} B against Decrypt of {PAYLOAD_BYTES} B; {} connections x {} in flight, warm-up {:?} + window {:?}; {} round(s)",
        plan.connections, plan.in_flight, plan.warmup, plan.duration, plan.rounds
    );
    let mut quiet = QuietAttempts::new(plan);
    let mut runs = Runs::default();
    for round in 1..=plan.rounds {
        for attempt in quiet.numbers() {
            quiet.wait_for_quiet().await;
            let meter = CpuMeter::start();
            let a = target
                .run(plan, auth.as_ref(), &batch, plan.duration)
                .await?;
            let b = target
                .run(plan, auth.as_ref(), &single, plan.duration)
                .await?;
            let others = meter.others_cores();
            let noisy = quiet.discard_if_noisy(others, attempt);
            eprintln!(
                "batch round {round}/{}: DecryptBatch {:>8} items/s ({} req/s) | Decrypt {:>8} req/s | other processes {others:.2} cores{}",
                plan.rounds,
                si(a.req_per_s() * ITEMS as f64),
                si(a.req_per_s()),
                si(b.req_per_s()),
                if noisy { " -> discarded, again" } else { "" },
            );
            if noisy {
                continue;
            }
            runs.batch.push(a);
            runs.single.push(b);
            runs.others.push(others);
            break;
        }
    }
    drop(target);
    server.stop().await?;
    Ok(results::section(plan, &runs, &quiet))
}
