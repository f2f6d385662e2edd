//! Scenario 4, envelope (issue #13): what the Rust client's local envelope encryption buys.
//! Three sides on the same 1 KiB, every round: A and C in alternating slices, then B:
//!
//! - A, `local`: `rekey_client::EnvelopeCipher::encrypt` with a warm data-key cache (one
//!   GenerateDataKey before the first round, none while measured), one task on the load
//!   runtime, calls per second;
//! - B: the server's Encrypt of the same bytes, requests per second, with scenario 1's load
//!   generator and settings (`--connections` x `--in-flight`) against Rekey in process, the
//!   same server A's client fetched its data key from;
//! - C, `bare`: bare AES-256-GCM with a fresh random nonce per message, one thread.
//!
//! A and C are two loops on one core each, their ratio a few tenths of a microsecond per
//! message; on a shared VM the speed of a core drifts by more than that over seconds, so a
//! round measures them in [`SLICES`] alternating slices (A C C A A C ...) and sums each
//! side's calls and time: both sides see the same drift, and each round's A/C is a ratio of
//! figures taken side by side rather than seconds apart.
//!
//! Targets: A/B >= 20x (the network call it saves) and A/C >= 0.7x (the per-message key
//! derivation and header must stay cheap). `results` turns the rounds into the table, the
//! JSON and the targets.

mod bare;
mod local;
mod results;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::runtime::Handle;

use self::bare::BareGcm;
use self::local::LocalEnvelope;
use crate::cli::Plan;
use crate::cpu::{CpuMeter, QuietAttempts};
use crate::load::RunStats;
use crate::report::Section;
use crate::rpc::{encrypt_cell, payload, RekeyUnderLoad};
use crate::units::si;

/// The payload of every side.
pub const PAYLOAD_BYTES: usize = 1024;

/// Calls between two reads of the clock in the local loops (about 0.1 ms of work).
const CHUNK: u64 = 64;

/// Slices each of A and C is cut into per round (a 3 s window: 12 slices of 250 ms).
const SLICES: u32 = 12;

/// Calls one loop made, and the time they took.
#[derive(Clone, Copy, Default)]
pub struct Tally {
    pub calls: u64,
    pub elapsed: Duration,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            calls: self.calls + other.calls,
            elapsed: self.elapsed + other.elapsed,
        }
    }

    fn per_s(self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

/// Every round's figure of each side.
#[derive(Default)]
pub struct Runs {
    /// A: envelope encryptions per second.
    pub local: Vec<f64>,
    /// B: the load generator's run against the server's Encrypt.
    pub server: Vec<RunStats>,
    /// C: bare AES-256-GCM messages per second.
    pub bare: Vec<f64>,
    /// Cores other processes kept busy during each round's A/B/C.
    pub others: Vec<f64>,
}

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let RekeyUnderLoad {
        server,
        target,
        auth,
    } = RekeyUnderLoad::start(plan, server_rt).await?;
    let cell = encrypt_cell(PAYLOAD_BYTES);
    let local = LocalEnvelope::connect(&server.url(), auth.as_ref()).await?;
    let bare = Arc::new(BareGcm::random());
    let plaintext = Arc::new(payload(PAYLOAD_BYTES));
    eprintln!(
        "envelope: 1 KiB; local and bare: one task/thread, window {:?}; server Encrypt: {} connections x {} in flight, warm-up {:?} + window {:?}; {} round(s)",
        plan.duration, plan.connections, plan.in_flight, plan.warmup, plan.duration, plan.rounds
    );
    // Unmeasured warm-up of each side (page in, CPU clocks, connections); quick mode
    // relies on the server run's own warm-up.
    if !plan.quick {
        local.encrypt_for(&plaintext, plan.warmup).await?;
        target.run(plan, auth.as_ref(), &cell, plan.warmup).await?;
        bare_seal_for(&bare, &plaintext, plan.warmup).await?;
    }
    let mut quiet = QuietAttempts::new(plan);
    let mut runs = Runs::default();
    for round in 1..=plan.rounds {
        for attempt in quiet.numbers() {
            quiet.wait_for_quiet().await;
            let meter = CpuMeter::start();
            let (a, c) = local_and_bare(&local, &bare, &plaintext, plan.duration).await?;
            let b = target
                .run(plan, auth.as_ref(), &cell, plan.duration)
                .await?;
            let others = meter.others_cores();
            let noisy = quiet.discard_if_noisy(others, attempt);
            eprintln!(
                "envelope round {round}/{}: local {:>8}/s | server Encrypt {:>8} req/s | bare GCM {:>8}/s | other processes {others:.2} cores{}",
                plan.rounds,
                si(a),
                si(b.req_per_s()),
                si(c),
                if noisy { " -> discarded, again" } else { "" },
            );
            if noisy {
                continue;
            }
            runs.local.push(a);
            runs.server.push(b);
            runs.bare.push(c);
            runs.others.push(others);
            break;
        }
    }
    let data_keys_fetched = local.data_keys_fetched();
    drop(local);
    drop(target);
    server.stop().await?;
    Ok(results::section(plan, &runs, &quiet, data_keys_fetched))
}

/// Sides A and C, `window` each, in [`SLICES`] alternating slices (A C C A A C ...: each
/// side goes first in half the pairs): their calls per second.
async fn local_and_bare(
    local: &LocalEnvelope,
    bare: &Arc<BareGcm>,
    plaintext: &Arc<Vec<u8>>,
    window: Duration,
) -> anyhow::Result<(f64, f64)> {
    let slice = window / SLICES;
    let (mut a, mut c) = (Tally::default(), Tally::default());
    for pair in 0..SLICES {
        if pair % 2 == 0 {
            a = a.add(local.encrypt_for(plaintext, slice).await?);
            c = c.add(bare_seal_for(bare, plaintext, slice).await?);
        } else {
            c = c.add(bare_seal_for(bare, plaintext, slice).await?);
            a = a.add(local.encrypt_for(plaintext, slice).await?);
        }
    }
    Ok((a.per_s(), c.per_s()))
}

/// Side C on a blocking thread of the load runtime, so that it has a thread to itself.
async fn bare_seal_for(
    bare: &Arc<BareGcm>,
    plaintext: &Arc<Vec<u8>>,
    window: Duration,
) -> anyhow::Result<Tally> {
    let (bare, plaintext) = (Arc::clone(bare), Arc::clone(plaintext));
    tokio::task::spawn_blocking(move || bare.seal_for(&plaintext, window))
        .await
        .context("bare AES-GCM thread panicked")?
}
