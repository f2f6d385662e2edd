//! Scenario 2, migration: rows per second of Rekey's migration worker re-encrypting a
//! PostgreSQL table after a forced rotation, against a raw-SQL baseline doing the same reads
//! (the adapter's keyset-paged SELECT) and the same compare-and-swap
//! `UPDATE … FROM UNNEST(…)` with precomputed new values, at the same batch size, one
//! statement at a time. Also the in-process decrypt+re-encrypt rate (the crypto ceiling).
//!
//! Each run starts from an identical table (TRUNCATE, copy from a template, VACUUM ANALYZE,
//! CHECKPOINT), so neither side inherits the other's dead tuples or dirty buffers.
//!
//! `dataset` makes and resets the tables, `worker` drives Rekey, `baseline` the raw SQL,
//! `results` turns the rounds into the table, the JSON and the targets.

mod baseline;
mod dataset;
mod results;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey::proto::RotationEvent;
use rekey::rotation::BatchSize;
use serde_json::json;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;
use tokio::runtime::Handle;

use self::dataset::Dataset;
use self::results::{CellRuns, Round};
use self::worker::Admin;
use crate::cli::Plan;
use crate::cpu::{CpuMeter, QuietAttempts};
use crate::rekey_server::InProcess;
use crate::report::{Section, Unavailable};
use crate::units::{si, size_label};
use rekey_testkit::pg::{self, TestDatabase};

/// PostgreSQL is part of what this scenario measures, not noise.
const MEASURED_PROCESSES: &[&str] = &["postgres"];

/// The two keys rotated, one per value size, with the legacy (v1) material of each.
const KEYS: [(&str, [u8; 32]); 2] = [
    ("TOKEN_ENCRYPTION", [0x42; 32]),
    ("DATABASE_ENCRYPTION", [0x24; 32]),
];

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let database = create_database(&plan.database_url).await?;
    let result = run_on(plan, server_rt, &database).await;
    database.drop().await;
    result
}

/// A database created for this run on the server of `admin_url`; drop it at the end.
async fn create_database(admin_url: &str) -> anyhow::Result<TestDatabase> {
    let mut admin = PgConnection::connect(admin_url).await.map_err(|e| {
        Unavailable(format!(
            "PostgreSQL at --database-url is not reachable ({e}); the migration scenario needs one, e.g. --database-url {}",
            crate::cli::DEFAULT_DATABASE_URL
        ))
    })?;
    let database = pg::create_database(&mut admin, admin_url, "rekey_bench_")
        .await
        .context("create the benchmark database")?;
    let _ = admin.close().await;
    Ok(database)
}

async fn run_on(
    plan: &Plan,
    server_rt: &Handle,
    database: &TestDatabase,
) -> anyhow::Result<Section> {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database.url)
        .await
        .context("connect to the benchmark database")?;
    let pg_version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&pool)
        .await?;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&pool)
        .await?;
    let datasets = prepare_datasets(plan, &pool).await?;
    let mut bench = Bench {
        plan,
        server_rt,
        pool: &pool,
        database_url: &database.url,
        datasets: &datasets,
        quiet: QuietAttempts::new(plan),
    };
    // runs[batch index][dataset index]
    let mut runs = Vec::new();
    for &batch_size in &plan.batch_sizes {
        runs.push(bench.measure_batch_size(batch_size).await?);
    }
    let quiet = bench.quiet;
    pool.close().await;

    let summary = results::summarise(plan, &datasets, &runs);
    summary.table.print();
    Ok(Section {
        value: json!({
            "rows": plan.migration_rows,
            "rounds": plan.rounds,
            "batch_sizes": plan.batch_sizes,
            "postgres": pg_version,
            "synchronous_commit": synchronous_commit,
            "keystore": "embedded default: SQLite in a scratch folder (events and checkpoints)",
            "rekey_measure": "wall time from ScheduleRotation(force) to GetEvent status completed, polled every few ms",
            "baseline": "the adapter's keyset SELECT and compare-and-swap UPDATE ... FROM UNNEST, same batch size, precomputed values, one statement at a time",
            "waited_for_quiet_secs": quiet.waited_secs,
            "discarded_noisy_runs": quiet.discarded,
            "cells": summary.cells,
            "best": summary.best,
            "crypto_ceiling": summary.crypto_ceiling,
        }),
        checks: summary.checks,
    })
}

/// One table per value size, generated and loaded into its template.
async fn prepare_datasets(plan: &Plan, pool: &PgPool) -> anyhow::Result<Vec<Dataset>> {
    let mut datasets = Vec::new();
    for (size, (key, legacy)) in plan.migration_value_sizes.iter().zip(KEYS) {
        let started = Instant::now();
        let data = Dataset::generate(*size, key, legacy, plan.migration_rows)?;
        data.create_tables(pool).await?;
        eprintln!(
            "migration: table {} with {} rows of {} plaintexts ready in {:.1} s",
            data.table,
            plan.migration_rows,
            size_label(*size),
            started.elapsed().as_secs_f64()
        );
        datasets.push(data);
    }
    Ok(datasets)
}

/// What every measurement of the scenario shares.
struct Bench<'a> {
    plan: &'a Plan,
    server_rt: &'a Handle,
    pool: &'a PgPool,
    database_url: &'a str,
    datasets: &'a [Dataset],
    quiet: QuietAttempts,
}

/// One side's kept run: rows per second, the cores other processes kept busy, and the
/// cores (this process, PostgreSQL) it used.
struct SideRun {
    rows_per_s: f64,
    others: f64,
    cores: (f64, f64),
}

impl Bench<'_> {
    /// Every round of every dataset at `batch_size`, on a Rekey configured with it.
    async fn measure_batch_size(&mut self, batch_size: u32) -> anyhow::Result<Vec<CellRuns>> {
        let size = BatchSize::new(batch_size)?;
        let rekey = worker::start(self.server_rt, self.datasets, self.database_url, size).await?;
        let mut admin = Admin::connect(&rekey).await?;
        let mut per_data: Vec<CellRuns> =
            self.datasets.iter().map(|_| CellRuns::default()).collect();
        for round in 1..=self.plan.rounds {
            for (data, runs) in self.datasets.iter().zip(per_data.iter_mut()) {
                let measured = self
                    .measure_round(round, batch_size, data, &rekey, &mut admin)
                    .await?;
                runs.push(measured);
            }
        }
        drop(admin);
        rekey.stop().await?;
        Ok(per_data)
    }

    /// A (the worker), B (raw SQL) and the crypto ceiling on one dataset.
    async fn measure_round(
        &mut self,
        round: u32,
        batch_size: u32,
        data: &Dataset,
        rekey: &InProcess,
        admin: &mut Admin,
    ) -> anyhow::Result<Round> {
        let (a, event) = self.measure_worker(data, admin).await?;
        let b = self.measure_raw_sql(data, batch_size).await?;
        let c = worker::crypto_ceiling(
            self.server_rt,
            Arc::clone(rekey.server.manager()),
            Arc::clone(&data.records),
            event.to_version,
        )
        .await?;
        eprintln!(
            "migration round {round}/{}: batch {batch_size:>6} {:>6}: Rekey {:>7} rows/s (event says {:>7}) | raw SQL {:>7} rows/s | crypto {:>7} rows/s | other processes {:.2}/{:.2} cores",
            self.plan.rounds,
            size_label(data.value_size),
            si(a.rows_per_s),
            si(event.records_per_second),
            si(b.rows_per_s),
            si(c),
            a.others,
            b.others,
        );
        Ok(Round {
            rekey: a.rows_per_s,
            event_rate: event.records_per_second,
            raw: b.rows_per_s,
            crypto: c,
            rekey_cores: a.cores,
            raw_cores: b.cores,
        })
    }

    /// A: the worker migrates the reset table after a forced rotation.
    async fn measure_worker(
        &mut self,
        data: &Dataset,
        admin: &mut Admin,
    ) -> anyhow::Result<(SideRun, RotationEvent)> {
        let poll = Duration::from_millis(if self.plan.quick { 5 } else { 10 });
        self.measure_side(data, "Rekey", async || {
            let (elapsed, event) = admin.migrate(data, poll).await?;
            let totals = event.totals.unwrap_or_default();
            if totals.migrated != data.rows() || totals.failed != 0 {
                bail!(
                    "Rekey migrated {} rows ({} failed, {} skipped) of {}",
                    totals.migrated,
                    totals.failed,
                    totals.skipped,
                    data.records.len()
                );
            }
            Ok((data.rows() as f64 / elapsed.as_secs_f64(), event))
        })
        .await
    }

    /// B: raw SQL on the same reset table state, at the same batch size.
    async fn measure_raw_sql(
        &mut self,
        data: &Dataset,
        batch_size: u32,
    ) -> anyhow::Result<SideRun> {
        let pool = self.pool;
        let (run, ()) = self
            .measure_side(data, "raw-SQL", async || {
                let started = Instant::now();
                let written = baseline::migrate(pool, data, batch_size).await?;
                let rows_per_s = data.rows() as f64 / started.elapsed().as_secs_f64();
                if written != data.rows() {
                    bail!(
                        "the raw-SQL baseline wrote {written} rows of {}",
                        data.records.len()
                    );
                }
                Ok((rows_per_s, ()))
            })
            .await?;
        Ok(run)
    }

    /// Runs `migrate` (rows per second, and what else it returns) on the freshly reset
    /// table, under a CPU meter; measured again if other processes (PostgreSQL, the measured
    /// database, does not count) kept the machine busy meanwhile.
    async fn measure_side<T>(
        &mut self,
        data: &Dataset,
        side: &str,
        mut migrate: impl AsyncFnMut() -> anyhow::Result<(f64, T)>,
    ) -> anyhow::Result<(SideRun, T)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            data.reset(self.pool).await?;
            self.quiet.wait_for_quiet().await;
            let meter = CpuMeter::start_with(MEASURED_PROCESSES);
            let (rows_per_s, outcome) = migrate().await?;
            let others = meter.others_cores();
            let cores = meter.average_cores();
            if self.quiet.discard_if_noisy(others, attempt) {
                eprintln!("migration: {side} run at {} rows/s discarded (other processes {others:.2} cores), again", si(rows_per_s));
                continue;
            }
            let run = SideRun {
                rows_per_s,
                others,
                cores,
            };
            return Ok((run, outcome));
        }
    }
}
