//! The batch-size sweep's results (block 1 of the migration scenario): the rounds of each
//! (batch size, dataset) cell, and what they add up to (the printed table, the JSON cells,
//! the best batch size of each side, the crypto ceiling and the targets).

use serde_json::{json, Value};

use super::dataset::Dataset;
use crate::cli::Plan;
use crate::report::TargetCheck;
use crate::stats::{median, median_of_ratios, ratio};
use crate::table::Table;
use crate::units::{si, size_label};

/// One round of one cell.
pub struct Round {
    /// Rows per second of the worker, wall time from ScheduleRotation to completed.
    pub rekey: f64,
    /// Rows per second as the completed event reports it.
    pub event_rate: f64,
    pub raw: f64,
    pub crypto: f64,
    /// Average cores used during each side's run: (this process, PostgreSQL).
    pub rekey_cores: (f64, f64),
    pub raw_cores: (f64, f64),
}

/// The rounds of one (batch size, dataset) cell.
#[derive(Default)]
pub struct CellRuns {
    rekey: Vec<f64>,
    event_rate: Vec<f64>,
    raw: Vec<f64>,
    crypto: Vec<f64>,
    rekey_cores: Vec<(f64, f64)>,
    raw_cores: Vec<(f64, f64)>,
}

impl CellRuns {
    pub fn push(&mut self, round: Round) {
        self.rekey.push(round.rekey);
        self.event_rate.push(round.event_rate);
        self.raw.push(round.raw);
        self.crypto.push(round.crypto);
        self.rekey_cores.push(round.rekey_cores);
        self.raw_cores.push(round.raw_cores);
    }
}

fn median_cores(runs: &[(f64, f64)]) -> (f64, f64) {
    (
        median(&runs.iter().map(|r| r.0).collect::<Vec<_>>()),
        median(&runs.iter().map(|r| r.1).collect::<Vec<_>>()),
    )
}

/// What the cells add up to.
pub struct Summary {
    pub table: Table,
    pub cells: Vec<Value>,
    pub best: Vec<Value>,
    pub crypto_ceiling: Vec<Value>,
    pub checks: Vec<TargetCheck>,
}

/// `runs[batch index][dataset index]`, in the order of `plan.batch_sizes` and `datasets`.
pub fn summarise(plan: &Plan, datasets: &[Dataset], runs: &[Vec<CellRuns>]) -> Summary {
    let mut summary = Summary {
        table: table(plan),
        cells: Vec::new(),
        best: Vec::new(),
        crypto_ceiling: Vec::new(),
        checks: Vec::new(),
    };
    for (i, data) in datasets.iter().enumerate() {
        // The ceiling does not depend on the batch size: every round of every batch size.
        let crypto: Vec<f64> = runs.iter().flat_map(|b| b[i].crypto.clone()).collect();
        let crypto_median = median(&crypto);
        let mut best = Best::default();
        for (b, &batch_size) in plan.batch_sizes.iter().enumerate() {
            let (a, raw) = add_cell(&mut summary, data, batch_size, &runs[b][i], crypto_median);
            best.consider(batch_size, a, raw);
        }
        best.report(&mut summary, data);
        summary.crypto_ceiling.push(json!({
            "value_bytes": data.value_size,
            "rows_per_s": crypto_median,
            "rounds": crypto,
        }));
    }
    summary
}

fn table(plan: &Plan) -> Table {
    Table::new(
        &format!(
            "Migration of {} rows, PostgreSQL, Rekey at the default parallelism ({} partitions) against single-stream raw SQL: medians of {} round(s) (Rekey = ScheduleRotation to completed)",
            plan.migration_rows,
            super::worker::default_parallelism(),
            plan.rounds
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
    )
}

/// Adds one cell's row and JSON; its median (Rekey, raw SQL) rows per second.
fn add_cell(
    summary: &mut Summary,
    data: &Dataset,
    batch_size: u32,
    cell: &CellRuns,
    crypto: f64,
) -> (f64, f64) {
    let a_cores = median_cores(&cell.rekey_cores);
    let b_cores = median_cores(&cell.raw_cores);
    let a = median(&cell.rekey);
    let raw = median(&cell.raw);
    // Median of each round's A/B pair, measured back to back.
    let r = median_of_ratios(&cell.rekey, &cell.raw);
    summary.table.row(vec![
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
    summary.cells.push(json!({
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
    (a, raw)
}

/// (batch size, median rows/s) of the fastest batch size, for each side: the target
/// compares each side at its own best, as an operator would tune it.
#[derive(Default)]
struct Best {
    rekey: Option<(u32, f64)>,
    raw: Option<(u32, f64)>,
}

impl Best {
    fn consider(&mut self, batch_size: u32, rekey: f64, raw: f64) {
        if self.rekey.is_none_or(|(_, best)| rekey > best) {
            self.rekey = Some((batch_size, rekey));
        }
        if self.raw.is_none_or(|(_, best)| raw > best) {
            self.raw = Some((batch_size, raw));
        }
    }

    fn report(&self, summary: &mut Summary, data: &Dataset) {
        let (Some((rekey_batch, a)), Some((raw_batch, raw))) = (self.rekey, self.raw) else {
            return;
        };
        let r = ratio(a, raw);
        summary.best.push(json!({
            "value_bytes": data.value_size,
            "rekey_batch_size": rekey_batch,
            "rekey_rows_per_s": a,
            "raw_sql_batch_size": raw_batch,
            "raw_sql_rows_per_s": raw,
            "ratio": r,
        }));
        summary.checks.push(TargetCheck::new(
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
