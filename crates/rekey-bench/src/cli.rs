//! Command-line options of `rekey-bench`, and the concrete plan (rounds, durations, sizes)
//! they resolve to, full or `--quick`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Default PostgreSQL server for the migration scenario (the test suite's default too).
pub const DEFAULT_DATABASE_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// Default MariaDB (or MySQL) server for the migration scenario's MariaDB comparison (the
/// test suite's default too).
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Partitions the migration scenario runs Rekey at against the single-stream baseline.
const DEFAULT_MIGRATION_PARALLELISM: [u32; 3] = [1, 2, 4];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// gRPC overhead: Rekey against a bare tonic echo service of the same contract.
    Rpc,
    /// Migration worker against raw SQL doing the same reads and compare-and-swap writes.
    Migration,
    /// AES-256-GCM of Rekey's crypto layer against `openssl speed`.
    Aead,
    /// The Rust client's local envelope encryption (warm data-key cache) against the
    /// server's Encrypt and against bare AES-256-GCM, 1 KiB.
    Envelope,
    /// DecryptBatch of 100 x 64 B values against one Decrypt per value.
    Batch,
    /// Server RSS (idle, under load) and time from process start to health SERVING.
    Footprint,
    /// Stream ciphertexts of 1 GiB: the Rust client against bare AES-256-GCM, the server's
    /// EncryptStream against the echo stream, with peak RSS.
    Stream,
    /// A start loading 1,000 key versions with the root key in SoftHSM2, against the same
    /// keystore with a local root key.
    RootKey,
    /// The real `rekey serve` loaded by h2load at 4 x 32 and 64 x 1, against tonic's health
    /// handler on the same server, with the server's and the generator's CPU.
    External,
    /// Vault's Transit encrypt over HTTP/1.1 (JSON, wrk at 64 connections) against gRPC
    /// Encrypt (h2load) on the same `rekey serve`, 64 B and 1 KiB.
    Transit,
    /// Every scenario, in that order.
    All,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Rpc => "rpc",
            Scenario::Migration => "migration",
            Scenario::Aead => "aead",
            Scenario::Envelope => "envelope",
            Scenario::Batch => "batch",
            Scenario::Footprint => "footprint",
            Scenario::Stream => "stream",
            Scenario::RootKey => "root-key",
            Scenario::External => "external",
            Scenario::Transit => "transit",
            Scenario::All => "all",
        }
    }

    /// The scenarios this choice runs, in order: `All` stands for each of the others.
    pub fn expand(self) -> Vec<Scenario> {
        match self {
            Scenario::All => vec![
                Scenario::Rpc,
                Scenario::Migration,
                Scenario::Aead,
                Scenario::Envelope,
                Scenario::Batch,
                Scenario::Footprint,
                Scenario::Stream,
                Scenario::RootKey,
                Scenario::External,
                Scenario::Transit,
            ],
            one => vec![one],
        }
    }
}

/// Rekey against its physical limits: each scenario runs its baseline in the same
/// invocation, interleaved A/B/A/B over several rounds, and reports medians and ratios.
#[derive(Debug, Clone, Parser)]
#[command(name = "rekey-bench", version)]
pub struct Options {
    /// A few seconds in total: tiny rounds, 2,000 migration rows, one batch size.
    #[arg(long)]
    pub quick: bool,
    /// Which scenario to run.
    #[arg(long, value_enum, default_value = "all")]
    pub scenario: Scenario,
    /// Rounds per scenario (each round runs A then B for every cell) [default: 5, quick: 1].
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Measured seconds of one RPC, AEAD or envelope run [default: 3, quick: 0.1].
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results.json")]
    pub json: PathBuf,
    /// PostgreSQL server for the migration scenario; a fresh database is created on it and
    /// dropped at the end.
    #[arg(long, default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// MariaDB (or MySQL) server for the migration scenario's MariaDB comparison; a fresh
    /// database `rekey_bench_<hex>` is created on it and dropped at the end. Unreachable:
    /// that comparison is reported as not measured.
    #[arg(long, default_value = DEFAULT_MYSQL_URL)]
    pub mysql_url: String,
    /// HTTP/2 connections of the RPC load generator.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 32)]
    pub in_flight: usize,
    /// Worker threads of the runtime serving Rekey and the echo baseline (in process).
    #[arg(long, default_value_t = 2)]
    pub server_threads: usize,
    /// Worker threads of the separate runtime driving the load.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Also set TCP_NODELAY on both in-process servers' listening sockets (scenario 1). Both
    /// already set it on every connection they accept, as `rekey serve` does; kept to check
    /// that this changes nothing.
    #[arg(long)]
    pub nodelay: bool,
    /// Scenario 1 cells to run (also the footprint load), e.g. `Encrypt:1024,Decrypt` (rpc
    /// name, optionally `:size`); all by default. For profiling one cell.
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<String>>,
    /// Before each A/B pair, wait up to this long for other processes to go quiet (below a
    /// quarter of a core) [default: 30, quick: 0 = never wait].
    #[arg(long)]
    pub quiet_wait_secs: Option<f64>,
    /// Measure an A/B pair again when other processes kept more than a quarter of a core busy
    /// during it, up to this many attempts in all [default: 3, quick: 1].
    #[arg(long)]
    pub attempts: Option<u32>,
    /// Rows of each migration table [default: 100000, quick: 2000].
    #[arg(long)]
    pub migration_rows: Option<u64>,
    /// Migration batch sizes to sweep, comma-separated [default: 100,1000,10000; quick: 1000].
    #[arg(long, value_delimiter = ',')]
    pub batch_sizes: Option<Vec<u32>>,
    /// Partitions per target (`parallelism`, 1 to 64) the migration scenario runs Rekey at
    /// against the single-stream raw-SQL baseline, PostgreSQL, 1 KiB, comma-separated
    /// [default: 1,2,4].
    #[arg(long, value_delimiter = ',')]
    pub migration_parallelism: Option<Vec<u32>>,
}

/// What one invocation does, with every default applied.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    pub rounds: u32,
    /// Measured time of one RPC, AEAD or envelope run.
    pub duration: Duration,
    /// Unmeasured time at the start of each RPC run.
    pub warmup: Duration,
    pub connections: usize,
    pub in_flight: usize,
    pub server_threads: usize,
    pub client_threads: usize,
    pub nodelay: bool,
    pub only: Vec<String>,
    pub quiet_wait: Duration,
    pub attempts: u32,
    pub rpc_payloads: Vec<usize>,
    pub migration_rows: u64,
    pub migration_value_sizes: Vec<usize>,
    pub batch_sizes: Vec<u32>,
    /// Partitions per target of the migration scenario's parallelism comparison.
    pub migration_parallelisms: Vec<u32>,
    pub aead_sizes: Vec<usize>,
    /// Whole seconds per `openssl speed` run (it takes nothing shorter).
    pub openssl_seconds: u64,
    /// Sizes `openssl speed` is run at (quick mode skips most: one second each).
    pub openssl_sizes: Vec<usize>,
    /// Also run `openssl speed -aead` (per-message nonce and tag, like Rekey).
    pub openssl_aead: bool,
    /// Process starts measured by the footprint scenario (each: first start, restart).
    pub footprint_starts: u32,
    pub database_url: String,
    pub mysql_url: String,
}

impl Plan {
    /// Whether the `--only` filter keeps scenario 1's `rpc` at `size` bytes.
    pub fn keeps(&self, rpc: &str, size: usize) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|f| match f.split_once(':') {
                Some((name, bytes)) => {
                    name.eq_ignore_ascii_case(rpc) && bytes.trim() == size.to_string()
                }
                None => f.eq_ignore_ascii_case(rpc),
            })
    }
}

impl Options {
    pub fn plan(&self) -> Plan {
        let quick = self.quick;
        let rounds = self.rounds.unwrap_or(if quick { 1 } else { 5 }).max(1);
        let secs = self
            .duration_secs
            .unwrap_or(if quick { 0.1 } else { 3.0 })
            .max(0.01);
        let duration = Duration::from_secs_f64(secs);
        let warmup = if quick {
            Duration::from_millis(20)
        } else {
            (duration / 5).min(Duration::from_secs(1))
        };
        let aead_sizes = vec![64, 1024, 16 * 1024, 1024 * 1024];
        Plan {
            quick,
            rounds,
            duration,
            warmup,
            connections: self.connections.max(1),
            in_flight: self.in_flight.max(1),
            server_threads: self.server_threads.max(1),
            client_threads: self.client_threads.max(1),
            nodelay: self.nodelay,
            only: self.only.clone().unwrap_or_default(),
            attempts: self.attempts.unwrap_or(if quick { 1 } else { 3 }).max(1),
            quiet_wait: Duration::from_secs_f64(
                self.quiet_wait_secs
                    .unwrap_or(if quick { 0.0 } else { 30.0 })
                    .max(0.0),
            ),
            rpc_payloads: vec![64, 1024, 4096],
            migration_rows: self
                .migration_rows
                .unwrap_or(if quick { 2_000 } else { 100_000 })
                .max(1),
            migration_value_sizes: vec![64, 1024],
            batch_sizes: self
                .batch_sizes
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| {
                    if quick {
                        vec![1_000]
                    } else {
                        vec![100, 1_000, 10_000]
                    }
                }),
            migration_parallelisms: self.migration_parallelisms(),
            openssl_seconds: secs.round().max(1.0) as u64,
            openssl_sizes: if quick {
                vec![1024]
            } else {
                aead_sizes.clone()
            },
            openssl_aead: !quick,
            aead_sizes,
            footprint_starts: if quick { 1 } else { rounds.max(3) },
            database_url: self.database_url.clone(),
            mysql_url: self.mysql_url.clone(),
        }
    }

    /// `--migration-parallelism` within what the server accepts (1 to 64), in order, each
    /// once; the default when nothing is left.
    fn migration_parallelisms(&self) -> Vec<u32> {
        let mut chosen: Vec<u32> = Vec::new();
        for &p in self.migration_parallelism.iter().flatten() {
            if (1..=64).contains(&p) && !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        if chosen.is_empty() {
            chosen = DEFAULT_MIGRATION_PARALLELISM.to_vec();
        }
        chosen
    }
}
