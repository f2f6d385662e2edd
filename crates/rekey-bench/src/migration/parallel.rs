//! Block 2, parallelism on PostgreSQL: what cutting a target into partitions migrated
//! concurrently buys over one stream of statements. 1 KiB rows, batch 1000; in every round
//! the raw-SQL baseline (single stream, as in the sweep) runs once, then Rekey at each
//! `--migration-parallelism`, each on a fresh server configured with it (a fresh keystore, so
//! every run is the same v1 -> v2 migration) and on the same freshly reset table. The ratio of
//! each parallelism is the median of its per-round ratios to that round's baseline; the
//! target (>= 1.30x) is checked at the best parallelism, since an operator picks it.

use rekey::rotation::BatchSize;
use serde_json::json;

use super::measure::Runs;
use super::worker::{self, Admin};
use super::{Bench, Block, FOCUS_BATCH_SIZE};
use crate::report::TargetCheck;
use crate::stats::{median, median_of_ratios};
use crate::table::Table;
use crate::units::{si, size_label};

/// Best parallel Rekey against single-stream raw SQL.
const TARGET: f64 = 1.30;

/// The rounds of Rekey at one parallelism.
struct Parallel {
    parallelism: u32,
    runs: Runs,
    event_rate: Vec<f64>,
}

impl Bench<'_> {
    /// The parallelism comparison: its table, JSON and target.
    pub(super) async fn parallelism(&mut self) -> anyhow::Result<Block> {
        let data = self.focus()?;
        let batch = BatchSize::new(FOCUS_BATCH_SIZE)?;
        let mut raw = Runs::default();
        let mut sides: Vec<Parallel> = self
            .plan
            .migration_parallelisms
            .iter()
            .map(|&parallelism| Parallel {
                parallelism,
                runs: Runs::default(),
                event_rate: Vec::new(),
            })
            .collect();
        for round in 1..=self.plan.rounds {
            let b = self.measure_raw_sql(data, FOCUS_BATCH_SIZE).await?;
            raw.push(&b);
            for side in &mut sides {
                let rekey = worker::start(
                    self.server_rt,
                    std::slice::from_ref(data),
                    self.database_url,
                    batch,
                    Some(side.parallelism),
                )
                .await?;
                let mut admin = Admin::connect(&rekey).await?;
                let measured = self.measure_worker(data, &mut admin).await;
                drop(admin);
                rekey.stop().await?;
                let (a, event) = measured?;
                eprintln!(
                    "migration parallelism round {round}/{}: {} batch {FOCUS_BATCH_SIZE}: Rekey x{} {:>7} rows/s (event says {:>7}) | raw SQL {:>7} rows/s | other processes {:.2}/{:.2} cores",
                    self.plan.rounds,
                    size_label(data.value_size),
                    side.parallelism,
                    si(a.rows_per_s),
                    si(event.records_per_second),
                    si(b.rows_per_s),
                    a.others,
                    b.others,
                );
                side.runs.push(&a);
                side.event_rate.push(event.records_per_second);
            }
        }
        Ok(summarise(
            self.plan.migration_rows,
            self.plan.rounds,
            &raw,
            &sides,
        ))
    }
}

fn summarise(rows: u64, rounds: u32, raw: &Runs, sides: &[Parallel]) -> Block {
    let mut table = Table::new(
        &format!(
            "Migration of {rows} rows of 1 KiB, PostgreSQL, batch {FOCUS_BATCH_SIZE}: Rekey by parallelism against single-stream raw SQL, medians of {rounds} round(s)"
        ),
        &[
            "parallelism",
            "Rekey rows/s",
            "event rows/s",
            "raw SQL rows/s",
            "ratio",
            "cores Rekey+PG",
            "cores raw+PG",
        ],
    );
    let mut rekey_json = Vec::new();
    let mut best: Option<(u32, f64, f64)> = None;
    for side in sides {
        let r = median_of_ratios(&side.runs.rows_per_s, &raw.rows_per_s);
        let a = side.runs.median();
        table.row(vec![
            side.parallelism.to_string(),
            si(a),
            si(median(&side.event_rate)),
            si(raw.median()),
            format!("{r:.2}"),
            side.runs.cores_label(),
            raw.cores_label(),
        ]);
        let mut value = side.runs.to_json("postgres");
        value["parallelism"] = json!(side.parallelism);
        value["event_records_per_s"] = json!(median(&side.event_rate));
        value["event_rounds"] = json!(side.event_rate);
        value["ratio"] = json!(r);
        rekey_json.push(value);
        if best.is_none_or(|(_, _, best_ratio)| r > best_ratio) {
            best = Some((side.parallelism, a, r));
        }
    }
    let mut checks = Vec::new();
    if let Some((parallelism, a, r)) = best {
        let each: Vec<String> = sides
            .iter()
            .map(|s| {
                format!(
                    "x{} {:.2}",
                    s.parallelism,
                    median_of_ratios(&s.runs.rows_per_s, &raw.rows_per_s)
                )
            })
            .collect();
        checks.push(TargetCheck::new(
            "migration 1 KiB parallel vs raw SQL",
            ">= 1.30x, best parallelism vs single-stream raw SQL, PostgreSQL",
            format!(
                "{r:.2}x (Rekey x{parallelism}: {}, raw SQL: {}; {})",
                si(a),
                si(raw.median()),
                each.join(", ")
            ),
            r >= TARGET,
        ));
    }
    Block {
        table,
        value: json!({
            "value_bytes": super::FOCUS_VALUE_BYTES,
            "batch_size": FOCUS_BATCH_SIZE,
            "raw_sql": raw.to_json("postgres"),
            "rekey": rekey_json,
            "best": best.map(|(parallelism, rows_per_s, ratio)| json!({
                "parallelism": parallelism,
                "rekey_rows_per_s": rows_per_s,
                "ratio": ratio,
            })),
            "target_ratio": TARGET,
        }),
        checks,
    }
}
