//! Scenario 2, migration: rows per second of Rekey's migration worker re-encrypting a table
//! after a forced rotation, against a raw-SQL baseline doing the same reads (the adapter's
//! keyset-paged SELECT) and the same compare-and-swap writes with precomputed new values, at
//! the same batch size, one statement at a time (a single stream). Four blocks, each with its
//! own table, JSON and targets:
//!
//! 1. `sweep`: PostgreSQL, 64 B and 1 KiB, every `--batch-sizes`, Rekey at the server's
//!    default parallelism; also the in-process decrypt+re-encrypt rate (the crypto ceiling).
//!    Target: each value size, best batch against best batch, >= 0.70x.
//! 2. `parallel`: PostgreSQL, 1 KiB, batch 1000, Rekey at each `--migration-parallelism`
//!    (1, 2, 4 partitions migrated concurrently) against the single-stream baseline of the
//!    same round. Target: the best parallelism >= 1.30x, since partitions exist to go past
//!    what one stream of statements can do.
//! 3. `mariadb`: the same 1 KiB rows in MariaDB (`--mysql-url`), Rekey at the default
//!    parallelism against the adapter's MySQL statements run single-stream. Target >= 0.70x.
//! 4. `rewrap`: envelope values (a wrapped data key in the header) of 64 B and 1 MiB, the
//!    worker's in-process re-encryption of each (a header-only rewrap). Target: 1 MiB rows/s
//!    >= 0.80x of 64 B rows/s, since a rewrap should not depend on the payload.
//!
//! Each run starts from an identical table (PostgreSQL: TRUNCATE, copy from a template,
//! VACUUM ANALYZE, CHECKPOINT; MariaDB: TRUNCATE, reload, ANALYZE), so neither side inherits
//! the other's dead tuples or dirty buffers.
//!
//! `dataset` makes and resets the PostgreSQL tables, `worker` drives Rekey, `baseline` and
//! `mariadb_baseline` the raw SQL, `measure` times one run of either side, `results`
//! summarises the sweep.

mod baseline;
mod dataset;
mod mariadb;
mod mariadb_baseline;
mod measure;
mod parallel;
mod results;
mod rewrap;
mod sweep;
mod worker;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey::proto::RotationEvent;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;
use tokio::runtime::Handle;

use self::dataset::Dataset;
use self::measure::{measured, SideRun, POSTGRES};
use self::worker::Admin;
use crate::cli::Plan;
use crate::cpu::QuietAttempts;
use crate::report::{Section, TargetCheck, Unavailable};
use crate::table::Table;
use crate::units::size_label;
use rekey_testkit::pg::{self, TestDatabase};

/// The two keys rotated, one per value size, with the legacy (v1) material of each.
const KEYS: [(&str, [u8; 32]); 2] = [
    ("TOKEN_ENCRYPTION", [0x42; 32]),
    ("DATABASE_ENCRYPTION", [0x24; 32]),
];

/// Value size of the parallelism and MariaDB comparisons.
const FOCUS_VALUE_BYTES: usize = 1024;

/// Batch size of the parallelism and MariaDB comparisons: 1 KiB's best batch size, for both
/// sides, in every recorded sweep (BENCHMARKS.md).
const FOCUS_BATCH_SIZE: u32 = 1000;

/// What one block of the scenario hands back: its printed table, its JSON and its targets.
pub struct Block {
    pub table: Table,
    pub value: Value,
    pub checks: Vec<TargetCheck>,
}

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
    let sweep = bench.sweep().await?;
    let parallel = bench.parallelism().await?;
    let mariadb = mariadb::run(&mut bench).await?;
    let quiet = bench.quiet;
    pool.close().await;
    let rewrap = rewrap::run(plan, server_rt).await?;

    sweep.table.print();
    let mut checks = sweep.checks;
    for block in [&parallel, &mariadb, &rewrap] {
        block.table.print();
        checks.extend(block.checks.iter().cloned());
    }
    Ok(Section {
        value: json!({
            "rows": plan.migration_rows,
            "rounds": plan.rounds,
            "batch_sizes": plan.batch_sizes,
            "rekey_parallelism": worker::default_parallelism(),
            "postgres": pg_version,
            "synchronous_commit": synchronous_commit,
            "keystore": "embedded default: SQLite in a scratch folder (events and checkpoints)",
            "rekey_measure": "wall time from ScheduleRotation(force) to GetEvent status completed, polled every few ms",
            "baseline": "the adapter's keyset SELECT and compare-and-swap UPDATE ... FROM UNNEST, same batch size, precomputed values, one statement at a time",
            "waited_for_quiet_secs": quiet.waited_secs,
            "discarded_noisy_runs": quiet.discarded,
            "cells": sweep.cells,
            "best": sweep.best,
            "crypto_ceiling": sweep.crypto_ceiling,
            "parallelism": parallel.value,
            "mariadb": mariadb.value,
            "envelope_rewrap": rewrap.value,
        }),
        checks,
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
pub struct Bench<'a> {
    plan: &'a Plan,
    server_rt: &'a Handle,
    pool: &'a PgPool,
    database_url: &'a str,
    datasets: &'a [Dataset],
    quiet: QuietAttempts,
}

impl<'a> Bench<'a> {
    /// The dataset of the parallelism and MariaDB comparisons (1 KiB values).
    fn focus(&self) -> anyhow::Result<&'a Dataset> {
        self.datasets
            .iter()
            .find(|d| d.value_size == FOCUS_VALUE_BYTES)
            .context("no 1 KiB migration table")
    }

    /// How often the completed event is polled for.
    fn poll(&self) -> Duration {
        Duration::from_millis(if self.plan.quick { 5 } else { 10 })
    }

    /// A: the worker migrates the reset PostgreSQL table after a forced rotation.
    async fn measure_worker(
        &mut self,
        data: &Dataset,
        admin: &mut Admin,
    ) -> anyhow::Result<(SideRun, RotationEvent)> {
        let poll = self.poll();
        let pool = self.pool;
        measured(
            &mut self.quiet,
            "Rekey",
            POSTGRES,
            async || data.reset(pool).await,
            async || admin.migrate_all(data.key, data.rows(), poll).await,
        )
        .await
    }

    /// B: raw SQL on the same reset PostgreSQL table state, at the same batch size.
    async fn measure_raw_sql(
        &mut self,
        data: &Dataset,
        batch_size: u32,
    ) -> anyhow::Result<SideRun> {
        let pool = self.pool;
        let (run, ()) = measured(
            &mut self.quiet,
            "raw-SQL",
            POSTGRES,
            async || data.reset(pool).await,
            async || {
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
            },
        )
        .await?;
        Ok(run)
    }
}
