//! Block 3, MariaDB: the same 1 KiB rows (v1 ciphertexts, the same values the baseline
//! writes) in a MariaDB table of the same shape (`id BIGINT PRIMARY KEY, token BLOB, owner
//! VARCHAR NOT NULL`, owner as associated data), migrated by Rekey at the server's default
//! parallelism (a `mysql://` target) and by the MySQL adapter's statements run single-stream
//! (`mariadb_baseline`), at batch 1000, interleaved per round. Target >= 0.70x, as on
//! PostgreSQL.
//!
//! Everything lives in a database `rekey_bench_<hex>` created on `--mysql-url`'s server for
//! this run and dropped at the end. MariaDB has no CHECKPOINT: a reset is TRUNCATE, a reload
//! from memory (no template table competing for the buffer pool) and ANALYZE TABLE, the same
//! before each side. A server that cannot be reached does not fail the scenario: the block
//! says why it was not measured and its target is reported not met.

use std::time::Instant;

use anyhow::Context;
use rekey::rotation::BatchSize;
use rekey_testkit::with_database;
use serde_json::{json, Value};
use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, Executor, MySql, QueryBuilder, Row};

use super::dataset::Dataset;
use super::mariadb_baseline;
use super::measure::{measured, Runs, MARIADB};
use super::worker::{self, Admin};
use super::{Bench, Block, FOCUS_BATCH_SIZE};
use crate::report::TargetCheck;
use crate::stats::{median, median_of_ratios};
use crate::table::Table;
use crate::units::{si, size_label};

/// Rekey against single-stream raw SQL on MariaDB.
const TARGET: f64 = 0.70;

const CHECK_NAME: &str = "migration 1 KiB MariaDB vs raw SQL";
const CHECK_GOAL: &str = ">= 0.70x, default parallelism vs single-stream raw SQL, batch 1000";

/// Server settings that bound what either side can do, for the JSON.
const SETTINGS: &[&str] = &[
    "innodb_buffer_pool_size",
    "innodb_flush_log_at_trx_commit",
    "innodb_log_file_size",
    "innodb_doublewrite",
    "sync_binlog",
    "log_bin",
];

/// Multi-row INSERTs of a reset stay well under MariaDB's default 16 MiB packet limit.
const LOAD_STATEMENT_BYTES: usize = 4 << 20;

/// The MariaDB comparison, or why it was not measured.
pub(super) async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Block> {
    let data = bench.focus()?;
    let database = match ScratchDatabase::create(&bench.plan.mysql_url).await {
        Ok(database) => database,
        Err(e) => {
            let reason = format!(
                "MariaDB at --mysql-url is not reachable or refused CREATE DATABASE ({e:#})"
            );
            eprintln!("migration: MariaDB comparison not measured: {reason}");
            return Ok(not_measured(&reason));
        }
    };
    let result = measure(bench, data, &database).await;
    database.drop().await;
    result
}

/// A database `rekey_bench_<random hex>` on the server of `admin_url`.
struct ScratchDatabase {
    url: String,
    name: String,
    admin_url: String,
}

impl ScratchDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let mut admin = MySqlConnection::connect(admin_url).await?;
        let mut random = [0u8; 8];
        rekey::crypto::rng::fill(&mut random);
        let name = format!("rekey_bench_{}", hex::encode(random));
        admin
            .execute(format!("CREATE DATABASE `{name}`").as_str())
            .await?;
        let _ = admin.close().await;
        Ok(Self {
            url: with_database(admin_url, &name),
            name,
            admin_url: admin_url.to_owned(),
        })
    }

    /// Drops the database; a failure is reported, not raised, so that it never hides the
    /// measurement's own outcome.
    async fn drop(self) {
        let dropped = async {
            let mut admin = MySqlConnection::connect(&self.admin_url).await?;
            let sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
            admin.execute(sql.as_str()).await?;
            admin.close().await
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop MariaDB database {}: {e}", self.name);
        }
    }
}

async fn measure(
    bench: &mut Bench<'_>,
    data: &Dataset,
    database: &ScratchDatabase,
) -> anyhow::Result<Block> {
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&database.url)
        .await
        .context("connect to the MariaDB benchmark database")?;
    let version: String = sqlx::query_scalar("SELECT CAST(version() AS CHAR)")
        .fetch_one(&pool)
        .await?;
    let settings = server_settings(&pool)
        .await
        .unwrap_or_else(|e| json!({ "error": e.to_string() }));
    let started = Instant::now();
    create_table(&pool, &data.table).await?;
    reset(&pool, data).await?;
    eprintln!(
        "migration: MariaDB table {} with {} rows of {} plaintexts ready in {:.1} s",
        data.table,
        data.rows(),
        size_label(data.value_size),
        started.elapsed().as_secs_f64()
    );
    let batch = BatchSize::new(FOCUS_BATCH_SIZE)?;
    let rekey = worker::start(
        bench.server_rt,
        std::slice::from_ref(data),
        &database.url,
        batch,
        None,
    )
    .await?;
    let rounds = measure_rounds(bench, &pool, data, &rekey).await;
    rekey.stop().await?;
    pool.close().await;
    let (rekey_runs, event_rate, raw) = rounds?;
    Ok(summarise(
        bench.plan.rounds,
        data,
        &version,
        settings,
        &rekey_runs,
        &event_rate,
        &raw,
    ))
}

/// Every round: A (Rekey), then B (raw SQL), each on a freshly reset table.
async fn measure_rounds(
    bench: &mut Bench<'_>,
    pool: &MySqlPool,
    data: &Dataset,
    rekey: &crate::rekey_server::InProcess,
) -> anyhow::Result<(Runs, Vec<f64>, Runs)> {
    let mut admin = Admin::connect(rekey).await?;
    let poll = bench.poll();
    let (mut rekey_runs, mut event_rate, mut raw) = (Runs::default(), Vec::new(), Runs::default());
    for round in 1..=bench.plan.rounds {
        let (a, event) = measured(
            &mut bench.quiet,
            "Rekey (MariaDB)",
            MARIADB,
            async || reset(pool, data).await,
            async || admin.migrate_all(data.key, data.rows(), poll).await,
        )
        .await?;
        let (b, ()) = measured(
            &mut bench.quiet,
            "raw-SQL (MariaDB)",
            MARIADB,
            async || reset(pool, data).await,
            async || {
                let started = Instant::now();
                let written =
                    mariadb_baseline::migrate(pool, &data.table, data, FOCUS_BATCH_SIZE).await?;
                let rows_per_s = data.rows() as f64 / started.elapsed().as_secs_f64();
                if written != data.rows() {
                    anyhow::bail!(
                        "the MariaDB raw-SQL baseline wrote {written} rows of {}",
                        data.rows()
                    );
                }
                Ok((rows_per_s, ()))
            },
        )
        .await?;
        eprintln!(
            "migration MariaDB round {round}/{}: {} batch {FOCUS_BATCH_SIZE}: Rekey {:>7} rows/s (event says {:>7}) | raw SQL {:>7} rows/s | other processes {:.2}/{:.2} cores",
            bench.plan.rounds,
            size_label(data.value_size),
            si(a.rows_per_s),
            si(event.records_per_second),
            si(b.rows_per_s),
            a.others,
            b.others,
        );
        rekey_runs.push(&a);
        event_rate.push(event.records_per_second);
        raw.push(&b);
    }
    Ok((rekey_runs, event_rate, raw))
}

/// The [`SETTINGS`] the server reports (any it does not know are left out).
async fn server_settings(pool: &MySqlPool) -> anyhow::Result<Value> {
    let mut settings = serde_json::Map::new();
    for name in SETTINGS {
        // A plain string goes over the text protocol: SHOW is not always preparable.
        let sql = format!("SHOW GLOBAL VARIABLES LIKE '{name}'");
        if let Some(row) = pool.fetch_optional(sql.as_str()).await? {
            let value: String = row.try_get(1)?;
            settings.insert((*name).to_owned(), Value::String(value));
        }
    }
    Ok(Value::Object(settings))
}

async fn create_table(pool: &MySqlPool, table: &str) -> anyhow::Result<()> {
    pool.execute(
        format!(
            "CREATE TABLE `{table}` (id BIGINT PRIMARY KEY, token BLOB, owner VARCHAR(64) NOT NULL) \
             ENGINE=InnoDB"
        )
        .as_str(),
    )
    .await?;
    Ok(())
}

/// Puts the table back to the v1 rows: TRUNCATE, multi-row INSERTs from memory, ANALYZE.
async fn reset(pool: &MySqlPool, data: &Dataset) -> anyhow::Result<()> {
    let table = &data.table;
    pool.execute(format!("TRUNCATE TABLE `{table}`").as_str())
        .await?;
    let row_bytes = data
        .records
        .first()
        .map_or(1, |r| r.old.len() + r.owner.len() + 16);
    let rows_per_statement = (LOAD_STATEMENT_BYTES / row_bytes).clamp(1, 1000);
    for chunk in data.records.chunks(rows_per_statement) {
        let mut insert: QueryBuilder<MySql> =
            QueryBuilder::new(format!("INSERT INTO `{table}` (id, token, owner) "));
        insert.push_values(chunk, |mut row, record| {
            row.push_bind(record.id)
                .push_bind(record.old.as_slice())
                .push_bind(record.owner.as_str());
        });
        insert.build().execute(pool).await?;
    }
    pool.execute(format!("ANALYZE TABLE `{table}`").as_str())
        .await?;
    Ok(())
}

fn table(rounds: u32, rows: u64, version: &str) -> Table {
    Table::new(
        &format!(
            "Migration of {rows} rows of 1 KiB, MariaDB {version}, batch {FOCUS_BATCH_SIZE}: Rekey at the default parallelism against single-stream raw SQL, medians of {rounds} round(s)"
        ),
        &[
            "parallelism",
            "Rekey rows/s",
            "event rows/s",
            "raw SQL rows/s",
            "ratio",
            "cores Rekey+DB",
            "cores raw+DB",
        ],
    )
}

fn summarise(
    rounds: u32,
    data: &Dataset,
    version: &str,
    settings: Value,
    rekey: &Runs,
    event_rate: &[f64],
    raw: &Runs,
) -> Block {
    let parallelism = worker::default_parallelism();
    let r = median_of_ratios(&rekey.rows_per_s, &raw.rows_per_s);
    let mut printed = table(rounds, data.rows(), version);
    printed.row(vec![
        parallelism.to_string(),
        si(rekey.median()),
        si(median(event_rate)),
        si(raw.median()),
        format!("{r:.2}"),
        rekey.cores_label(),
        raw.cores_label(),
    ]);
    let mut rekey_json = rekey.to_json("mariadb");
    rekey_json["parallelism"] = json!(parallelism);
    rekey_json["event_records_per_s"] = json!(median(event_rate));
    rekey_json["event_rounds"] = json!(event_rate);
    Block {
        table: printed,
        value: json!({
            "server": version,
            "settings": settings,
            "rows": data.rows(),
            "value_bytes": data.value_size,
            "batch_size": FOCUS_BATCH_SIZE,
            "table": "id BIGINT PRIMARY KEY, token BLOB, owner VARCHAR(64) NOT NULL (associated data), InnoDB",
            "baseline": "the MySQL adapter's keyset SELECT and per-row compare-and-swap UPDATEs in one transaction per batch, precomputed values, single stream",
            "rekey": rekey_json,
            "raw_sql": raw.to_json("mariadb"),
            "ratio": r,
            "target_ratio": TARGET,
        }),
        checks: vec![TargetCheck::new(
            CHECK_NAME,
            CHECK_GOAL,
            format!(
                "{r:.2}x (Rekey x{parallelism}: {}, raw SQL: {})",
                si(rekey.median()),
                si(raw.median())
            ),
            r >= TARGET,
        )],
    }
}

/// The block of a MariaDB comparison that could not run: its reason, and its target not met.
fn not_measured(reason: &str) -> Block {
    let mut printed = Table::new("Migration, MariaDB", &["status"]);
    printed.row(vec![format!("not measured: {reason}")]);
    Block {
        table: printed,
        value: json!({ "status": "not measured", "reason": reason }),
        checks: vec![TargetCheck::new(
            CHECK_NAME,
            CHECK_GOAL,
            "not measured (MariaDB unreachable)".to_owned(),
            false,
        )],
    }
}
