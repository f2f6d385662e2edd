//! Scenario 2, migration: rows per second of Rekey's migration worker re-encrypting a
//! PostgreSQL table after a forced rotation, against a raw-SQL baseline doing the same reads
//! (the adapter's keyset-paged SELECT) and the same compare-and-swap
//! `UPDATE … FROM UNNEST(…)` with precomputed new values, at the same batch size, one
//! statement at a time. Also the in-process decrypt+re-encrypt rate (the crypto ceiling).
//!
//! Each run starts from an identical table (TRUNCATE, copy from a template, VACUUM ANALYZE,
//! CHECKPOINT), so neither side inherits the other's dead tuples or dirty buffers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey::crypto::{EncryptionKey, KeyMaterial};
use rekey::proto::rotation_service_client::RotationServiceClient;
use rekey::proto::{GetEventRequest, RotationEvent, ScheduleRotationRequest};
use rekey::rotation::targets::{Encoding, TargetConfig};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, Row};
use tokio::runtime::Handle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::rekey_server::{request, InProcess};
use crate::report::{
    median, ratio, si, size_label, wait_for_quiet, CpuMeter, Section, Table, TargetCheck,
    Unavailable, NOISY_CORES,
};
use rekey_testkit::pg::{self, TestDatabase};

/// One migration table: its key, its rows (with the values the baseline writes).
struct Dataset {
    value_size: usize,
    key: &'static str,
    legacy: [u8; 32],
    table: String,
    records: Arc<Vec<Record>>,
}

struct Record {
    id: i64,
    owner: String,
    /// Stored value: a v1 ciphertext under the legacy key.
    old: Vec<u8>,
    /// What the raw-SQL baseline writes: a ciphertext of the same plaintext and length.
    new: Vec<u8>,
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

fn plaintext(id: i64, size: usize) -> Vec<u8> {
    let mut value = format!("row-{id:010}-").into_bytes();
    value.resize(size, b'.');
    value.truncate(size);
    value
}

fn owner(id: i64) -> String {
    format!("user-{id}")
}

fn dataset(
    value_size: usize,
    key: &'static str,
    legacy: [u8; 32],
    rows: u64,
) -> anyhow::Result<Dataset> {
    let v1 = EncryptionKey::new(&KeyMaterial::from_bytes(legacy));
    let other = EncryptionKey::new(&KeyMaterial::generate());
    let mut records = Vec::with_capacity(rows as usize);
    for id in 1..=rows as i64 {
        let plaintext = plaintext(id, value_size);
        let owner = owner(id);
        records.push(Record {
            id,
            old: v1.encrypt(key, 1, &plaintext, owner.as_bytes())?,
            new: other.encrypt(key, 2, &plaintext, owner.as_bytes())?,
            owner,
        });
    }
    Ok(Dataset {
        value_size,
        key,
        legacy,
        table: format!("bench_secrets_{value_size}"),
        records: Arc::new(records),
    })
}

/// Creates the table and its template, filled with the v1 rows.
async fn create_tables(pool: &PgPool, data: &Dataset) -> anyhow::Result<()> {
    for table in [data.table.clone(), format!("{}_template", data.table)] {
        pool.execute(
            format!(
                "CREATE TABLE \"{table}\" (id BIGINT PRIMARY KEY, token BYTEA, owner TEXT NOT NULL)"
            )
            .as_str(),
        )
        .await?;
    }
    let insert = format!(
        "INSERT INTO \"{}_template\" (id, token, owner) \
         SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::text[])",
        data.table
    );
    for chunk in data.records.chunks(5_000) {
        let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
        let tokens: Vec<&[u8]> = chunk.iter().map(|r| r.old.as_slice()).collect();
        let owners: Vec<&str> = chunk.iter().map(|r| r.owner.as_str()).collect();
        sqlx::query(&insert)
            .bind(ids)
            .bind(tokens)
            .bind(owners)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Puts the table back to the template's v1 rows, freshly vacuumed and checkpointed.
async fn reset(pool: &PgPool, table: &str) -> anyhow::Result<()> {
    pool.execute(format!("TRUNCATE \"{table}\"").as_str())
        .await?;
    pool.execute(
        format!(
            "INSERT INTO \"{table}\" (id, token, owner) \
             SELECT id, token, owner FROM \"{table}_template\" ORDER BY id"
        )
        .as_str(),
    )
    .await?;
    pool.execute(format!("VACUUM ANALYZE \"{table}\"").as_str())
        .await?;
    // Needs superuser (or pg_checkpoint); without it both sides simply skip it.
    let _ = pool.execute("CHECKPOINT").await;
    Ok(())
}

/// The baseline: the adapter's statements (src/rotation/targets/sql.rs and postgres.rs for
/// a BIGINT key, binary column and an associated-data column), driven by hand with values
/// computed beforehand. Returns the rows written.
async fn raw_sql(pool: &PgPool, data: &Dataset, batch_size: u32) -> anyhow::Result<u64> {
    let t = &data.table;
    let select = format!(
        "SELECT CAST(\"id\" AS BIGINT), \"token\", convert_to(CAST(\"owner\" AS TEXT), 'UTF8') \
         FROM \"{t}\" WHERE \"token\" IS NOT NULL AND \"id\" IS NOT NULL"
    );
    let fetch_first = format!("{select} ORDER BY \"id\" LIMIT $1");
    let fetch_after = format!("{select} AND \"id\" > $1 ORDER BY \"id\" LIMIT $2");
    let compare_and_swap = format!(
        "UPDATE \"{t}\" AS t SET \"token\" = u.new \
         FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS u(pk, old, new) \
         WHERE t.\"id\" = CAST(u.pk AS BIGINT) AND t.\"token\" = u.old \
         RETURNING CAST(t.\"id\" AS BIGINT)"
    );
    let mut after: Option<i64> = None;
    let mut written = 0u64;
    loop {
        let query = match after {
            None => sqlx::query(&fetch_first),
            Some(after) => sqlx::query(&fetch_after).bind(after),
        };
        let rows = query.bind(i64::from(batch_size)).fetch_all(pool).await?;
        if rows.is_empty() {
            return Ok(written);
        }
        let mut read = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let stored: Vec<u8> = row.try_get(1)?;
            let _associated_data: Option<Vec<u8>> = row.try_get(2)?;
            read.push((id, stored));
        }
        let pks: Vec<String> = read.iter().map(|(id, _)| id.to_string()).collect();
        let old: Vec<&[u8]> = read.iter().map(|(_, stored)| stored.as_slice()).collect();
        let new: Vec<&[u8]> = read
            .iter()
            .map(|(id, _)| data.records[(*id - 1) as usize].new.as_slice())
            .collect();
        let changed = sqlx::query(&compare_and_swap)
            .bind(pks)
            .bind(old)
            .bind(new)
            .fetch_all(pool)
            .await?;
        written += changed.len() as u64;
        after = read.last().map(|(id, _)| *id);
    }
}

/// Forces a rotation of the dataset's key and waits for its migration to complete.
async fn rekey_migration(
    client: &mut RotationServiceClient<Channel>,
    auth: Option<&AsciiMetadataValue>,
    data: &Dataset,
    poll: Duration,
) -> anyhow::Result<(Duration, RotationEvent)> {
    let started = Instant::now();
    let reply = client
        .schedule_rotation(request(
            ScheduleRotationRequest {
                key_name: data.key.into(),
                force: true,
            },
            auth,
        ))
        .await
        .context("ScheduleRotation")?
        .into_inner();
    let event_id = reply
        .event
        .map(|e| e.event_id)
        .with_context(|| format!("ScheduleRotation did not rotate: {}", reply.reason))?;
    loop {
        let event = client
            .get_event(request(
                GetEventRequest {
                    event_id: event_id.clone(),
                },
                auth,
            ))
            .await
            .context("GetEvent")?
            .into_inner();
        match event.status.as_str() {
            "completed" => return Ok((started.elapsed(), event)),
            "failed" | "rolled_back" => {
                bail!(
                    "migration event {event_id} ended {}: {}",
                    event.status,
                    event.last_error
                )
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("migration event {event_id} did not complete within an hour");
        }
        tokio::time::sleep(poll).await;
    }
}

/// Decrypt + re-encrypt of every row in process through the key manager, one task, as the
/// worker does it; rows per second.
async fn crypto_ceiling(
    runtime: &Handle,
    manager: Arc<rekey::keystore::KeyManager>,
    records: Arc<Vec<Record>>,
    to_version: u32,
) -> anyhow::Result<f64> {
    runtime
        .spawn(async move {
            let started = Instant::now();
            for record in records.iter() {
                let out = manager
                    .reencrypt_to(&record.old, record.owner.as_bytes(), to_version)
                    .await?;
                std::hint::black_box(out);
            }
            Ok::<f64, anyhow::Error>(records.len() as f64 / started.elapsed().as_secs_f64())
        })
        .await?
}

fn target(data: &Dataset, url: &str, batch_size: rekey::rotation::BatchSize) -> TargetConfig {
    TargetConfig {
        name: data.table.clone(),
        database_url: SecretString::from(url.to_owned()),
        table: data.table.clone(),
        primary_key: "id".into(),
        column: "token".into(),
        encoding: Encoding::Binary,
        key: data.key.into(),
        associated_data_column: Some("owner".into()),
        batch_size: Some(batch_size),
        rate_limit: None,
    }
}

#[derive(Default)]
struct CellRuns {
    rekey: Vec<f64>,
    event_rate: Vec<f64>,
    raw: Vec<f64>,
    /// Average cores used during each run: (this process, PostgreSQL).
    rekey_cores: Vec<(f64, f64)>,
    raw_cores: Vec<(f64, f64)>,
}

/// (this process, PostgreSQL) average cores over a run, from its meter.
fn cores(meter: &CpuMeter) -> (f64, f64) {
    let cpu = meter.finish();
    let wall = cpu["wall_secs"].as_f64().unwrap_or(0.0);
    let per = |k: &str| {
        if wall > 0.0 {
            cpu[k].as_f64().unwrap_or(0.0) / wall
        } else {
            0.0
        }
    };
    (
        per("this_process_cpu_secs"),
        per("measured_processes_cpu_secs"),
    )
}

fn median_cores(runs: &[(f64, f64)]) -> (f64, f64) {
    (
        median(&runs.iter().map(|r| r.0).collect::<Vec<_>>()),
        median(&runs.iter().map(|r| r.1).collect::<Vec<_>>()),
    )
}

pub async fn run(plan: &Plan, server_rt: &Handle) -> anyhow::Result<Section> {
    let database = create_database(&plan.database_url).await?;
    let result = run_on(plan, server_rt, &database).await;
    database.drop().await;
    result
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
    let keys: [(&'static str, [u8; 32]); 2] = [
        ("TOKEN_ENCRYPTION", [0x42; 32]),
        ("DATABASE_ENCRYPTION", [0x24; 32]),
    ];
    let mut datasets = Vec::new();
    for (size, (key, legacy)) in plan.migration_value_sizes.iter().zip(keys) {
        let started = Instant::now();
        let data = dataset(*size, key, legacy, plan.migration_rows)?;
        create_tables(&pool, &data).await?;
        eprintln!(
            "migration: table {} with {} rows of {} plaintexts ready in {:.1} s",
            data.table,
            plan.migration_rows,
            size_label(*size),
            started.elapsed().as_secs_f64()
        );
        datasets.push(data);
    }
    let poll = Duration::from_millis(if plan.quick { 5 } else { 10 });

    // runs[batch index][dataset index]
    let mut runs: Vec<Vec<CellRuns>> = Vec::new();
    let mut waited = 0.0;
    let mut discarded = 0u32;
    let mut ceiling: Vec<Vec<f64>> = datasets.iter().map(|_| Vec::new()).collect();
    for &batch_size in &plan.batch_sizes {
        let size = rekey::rotation::BatchSize::new(batch_size)?;
        let rekey = InProcess::start(server_rt, false, |c| {
            for data in &datasets {
                c.legacy_keys.0.insert(
                    data.key.into(),
                    SecretString::from(hex::encode(data.legacy)),
                );
                c.targets.push(target(data, &database.url, size));
            }
            c.rotation.batch_size = size;
            c.rotation.worker_poll_interval_ms = 100;
            c.rotation.schedule_enabled = false;
        })
        .await?;
        let channel = tonic::transport::Endpoint::from_shared(rekey.url())?
            .connect()
            .await?;
        let mut client = RotationServiceClient::new(channel);
        let auth = rekey.admin.clone();
        let mut per_data: Vec<CellRuns> = datasets.iter().map(|_| CellRuns::default()).collect();
        for round in 1..=plan.rounds {
            for (i, data) in datasets.iter().enumerate() {
                let rows = data.records.len() as f64;
                // A: the worker. Measured again if other processes (PostgreSQL, the
                // measured database, does not count) kept the machine busy meanwhile.
                let mut attempt = 0;
                let (a, event, a_others, a_cores) = loop {
                    attempt += 1;
                    reset(&pool, &data.table).await?;
                    waited += wait_for_quiet(plan.quiet_wait).await;
                    let meter = CpuMeter::start_with(&["postgres"]);
                    let (elapsed, event) =
                        rekey_migration(&mut client, auth.as_ref(), data, poll).await?;
                    let others = meter.others_cores();
                    let used = cores(&meter);
                    let totals = event.totals.unwrap_or_default();
                    if totals.migrated != data.records.len() as u64 || totals.failed != 0 {
                        bail!(
                            "Rekey migrated {} rows ({} failed, {} skipped) of {}",
                            totals.migrated,
                            totals.failed,
                            totals.skipped,
                            data.records.len()
                        );
                    }
                    let a = rows / elapsed.as_secs_f64();
                    if others > NOISY_CORES && attempt < plan.attempts {
                        discarded += 1;
                        eprintln!("migration: Rekey run at {} rows/s discarded (other processes {others:.2} cores), again", si(a));
                        continue;
                    }
                    break (a, event, others, used);
                };

                // B: raw SQL, same table state.
                let mut attempt = 0;
                let (b, b_others, b_cores) = loop {
                    attempt += 1;
                    reset(&pool, &data.table).await?;
                    waited += wait_for_quiet(plan.quiet_wait).await;
                    let meter = CpuMeter::start_with(&["postgres"]);
                    let started = Instant::now();
                    let written = raw_sql(&pool, data, batch_size).await?;
                    let b = rows / started.elapsed().as_secs_f64();
                    let others = meter.others_cores();
                    let used = cores(&meter);
                    if written != data.records.len() as u64 {
                        bail!(
                            "the raw-SQL baseline wrote {written} rows of {}",
                            data.records.len()
                        );
                    }
                    if others > NOISY_CORES && attempt < plan.attempts {
                        discarded += 1;
                        eprintln!("migration: raw-SQL run at {} rows/s discarded (other processes {others:.2} cores), again", si(b));
                        continue;
                    }
                    break (b, others, used);
                };

                let c = crypto_ceiling(
                    server_rt,
                    Arc::clone(rekey.server.manager()),
                    Arc::clone(&data.records),
                    event.to_version,
                )
                .await?;
                eprintln!(
                    "migration round {round}/{}: batch {batch_size:>6} {:>6}: Rekey {:>7} rows/s (event says {:>7}) | raw SQL {:>7} rows/s | crypto {:>7} rows/s | other processes {:.2}/{:.2} cores",
                    plan.rounds,
                    size_label(data.value_size),
                    si(a),
                    si(event.records_per_second),
                    si(b),
                    si(c),
                    a_others,
                    b_others,
                );
                per_data[i].rekey.push(a);
                per_data[i].event_rate.push(event.records_per_second);
                per_data[i].raw.push(b);
                per_data[i].rekey_cores.push(a_cores);
                per_data[i].raw_cores.push(b_cores);
                ceiling[i].push(c);
            }
        }
        drop(client);
        rekey.stop().await?;
        runs.push(per_data);
    }
    pool.close().await;

    let mut table = Table::new(
        &format!(
            "Migration of {} rows, PostgreSQL: medians of {} round(s) (Rekey = ScheduleRotation to completed)",
            plan.migration_rows, plan.rounds
        ),
        &[
            "value",
            "batch",
            "Rekey rows/s",
            "event rows/s",
            "raw SQL rows/s",
            "ratio",
            "crypto rows/s",
            "cores Rekey+PG",
            "cores raw+PG",
        ],
    );
    let mut cells = Vec::new();
    let mut checks = Vec::new();
    let mut best = Vec::new();
    for (i, data) in datasets.iter().enumerate() {
        let crypto = median(&ceiling[i]);
        // (batch size, median rows/s) of the fastest batch size, for each side.
        let mut best_rekey: Option<(u32, f64)> = None;
        let mut best_raw: Option<(u32, f64)> = None;
        for (b, &batch_size) in plan.batch_sizes.iter().enumerate() {
            let cell = &runs[b][i];
            let a_cores = median_cores(&cell.rekey_cores);
            let b_cores = median_cores(&cell.raw_cores);
            let a = median(&cell.rekey);
            let raw = median(&cell.raw);
            // Median of each round's A/B pair, measured back to back.
            let r = median(
                &cell
                    .rekey
                    .iter()
                    .zip(&cell.raw)
                    .map(|(a, b)| ratio(*a, *b))
                    .collect::<Vec<_>>(),
            );
            table.row(vec![
                size_label(data.value_size),
                batch_size.to_string(),
                si(a),
                si(median(&cell.event_rate)),
                si(raw),
                format!("{r:.2}"),
                si(crypto),
                format!("{:.2}+{:.2}", a_cores.0, a_cores.1),
                format!("{:.2}+{:.2}", b_cores.0, b_cores.1),
            ]);
            cells.push(json!({
                "value_bytes": data.value_size,
                "batch_size": batch_size,
                "rekey": {
                    "rows_per_s": a,
                    "rounds": cell.rekey,
                    "event_records_per_s": median(&cell.event_rate),
                    "event_rounds": cell.event_rate,
                    "cores_this_process": a_cores.0,
                    "cores_postgres": a_cores.1,
                },
                "raw_sql": {
                    "rows_per_s": raw,
                    "rounds": cell.raw,
                    "cores_this_process": b_cores.0,
                    "cores_postgres": b_cores.1,
                },
                "ratio": r,
            }));
            if best_rekey.is_none_or(|(_, best)| a > best) {
                best_rekey = Some((batch_size, a));
            }
            if best_raw.is_none_or(|(_, best)| raw > best) {
                best_raw = Some((batch_size, raw));
            }
        }
        if let (Some((rekey_batch, a)), Some((raw_batch, raw))) = (best_rekey, best_raw) {
            let r = ratio(a, raw);
            best.push(json!({
                "value_bytes": data.value_size,
                "rekey_batch_size": rekey_batch,
                "rekey_rows_per_s": a,
                "raw_sql_batch_size": raw_batch,
                "raw_sql_rows_per_s": raw,
                "ratio": r,
            }));
            checks.push(TargetCheck::new(
                format!("migration {} vs raw SQL", size_label(data.value_size)),
                ">= 0.70x, best batch vs best batch",
                format!(
                    "{r:.2}x (Rekey at {rekey_batch}: {}, raw SQL at {raw_batch}: {})",
                    si(a),
                    si(raw)
                ),
                r >= 0.70,
            ));
        }
    }
    table.print();
    let ceiling_json: Vec<Value> = datasets
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({ "value_bytes": d.value_size, "rows_per_s": median(&ceiling[i]), "rounds": ceiling[i] })
        })
        .collect();
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
            "waited_for_quiet_secs": waited,
            "discarded_noisy_runs": discarded,
            "cells": cells,
            "best": best,
            "crypto_ceiling": ceiling_json,
        }),
        checks,
    })
}
