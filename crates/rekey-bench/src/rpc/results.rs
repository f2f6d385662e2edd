//! Scenario 1's results: the rounds of each cell on both servers, and what they add up to
//! (the printed table, the JSON cells and the targets).

use serde_json::{json, Value};

use super::cells::Cell;
use crate::cli::Plan;
use crate::load::{Call, RunStats};
use crate::report::TargetCheck;
use crate::stats::{median, median_of_ratios, ratio};
use crate::table::Table;
use crate::units::{micros, si, size_label};

/// The rounds of one side (Rekey or echo) of one cell; figures are medians over them.
#[derive(Default)]
pub struct Side {
    pub runs: Vec<RunStats>,
    /// Cores other processes kept busy during each round's A/B pair.
    pub others: Vec<f64>,
}

impl Side {
    fn rounds(&self, figure: fn(&RunStats) -> f64) -> Vec<f64> {
        self.runs.iter().map(figure).collect()
    }
    fn req_per_s(&self) -> f64 {
        median(&self.rounds(RunStats::req_per_s))
    }
    fn p50(&self) -> f64 {
        median(&self.rounds(RunStats::p50_us))
    }
    fn p99(&self) -> f64 {
        median(&self.rounds(RunStats::p99_us))
    }
    fn to_json(&self) -> Value {
        json!({
            "req_per_s": self.req_per_s(),
            "p50_us": self.p50(),
            "p99_us": self.p99(),
            "rounds_req_per_s": self.rounds(RunStats::req_per_s),
            "rounds_p50_us": self.rounds(RunStats::p50_us),
            "rounds_p99_us": self.rounds(RunStats::p99_us),
        })
    }
}

/// Both sides of one cell.
#[derive(Default)]
pub struct CellRuns {
    pub rekey: Side,
    pub echo: Side,
}

impl CellRuns {
    /// Median of each round's Rekey/echo ratio of `figure`.
    fn paired(&self, figure: fn(&RunStats) -> f64) -> f64 {
        median_of_ratios(&self.rekey.rounds(figure), &self.echo.rounds(figure))
    }
}

/// What the cells add up to.
pub struct Summary {
    pub table: Table,
    pub cells: Vec<Value>,
    pub checks: Vec<TargetCheck>,
}

pub fn summarise(plan: &Plan, cells: &[Cell], results: &[CellRuns]) -> Summary {
    let mut summary = Summary {
        table: table(plan),
        cells: Vec::new(),
        checks: Vec::new(),
    };
    for (cell, runs) in cells.iter().zip(results) {
        add_cell(&mut summary, cell, runs);
    }
    summary
}

fn table(plan: &Plan) -> Table {
    Table::new(
        &format!(
            "RPC overhead: medians of {} round(s), {} connections x {} in flight; ratios Rekey/echo, median of per-round pairs{}",
            plan.rounds,
            plan.connections,
            plan.in_flight,
            if plan.nodelay { ", listeners with TCP_NODELAY" } else { "" }
        ),
        &[
            "rpc",
            "payload",
            "Rekey req/s",
            "echo req/s",
            "ratio",
            "Rekey p50",
            "echo p50",
            "Rekey p99",
            "echo p99",
            "p99 ratio",
        ],
    )
}

fn add_cell(summary: &mut Summary, cell: &Cell, runs: &CellRuns) {
    let (a, b) = (&runs.rekey, &runs.echo);
    // Ratios are the medians of each round's A/B pair (measured seconds apart), which
    // cancels slow drift in what else the machine is doing.
    let throughput = runs.paired(RunStats::req_per_s);
    let p50 = runs.paired(RunStats::p50_us);
    let p99 = runs.paired(RunStats::p99_us);
    summary.table.row(vec![
        cell.call.rpc().to_owned(),
        size_label(cell.payload),
        si(a.req_per_s()),
        si(b.req_per_s()),
        format!("{throughput:.2}"),
        micros(a.p50()),
        micros(b.p50()),
        micros(a.p99()),
        micros(b.p99()),
        format!("{p99:.2}"),
    ]);
    summary.cells.push(json!({
        "rpc": cell.call.rpc(),
        "payload_bytes": cell.payload,
        "rekey": a.to_json(),
        "echo": b.to_json(),
        "ratio_req_per_s": throughput,
        "ratio_p50": p50,
        "ratio_p99": p99,
        "other_processes_cores_per_round": a.others,
        "ratio_of_medians_req_per_s": ratio(a.req_per_s(), b.req_per_s()),
        "ratio_of_medians_p99": ratio(a.p99(), b.p99()),
    }));
    // The targets name the data-plane calls at 1 KiB; Sign has none.
    if cell.payload == 1024 && !matches!(cell.call, Call::Sign(_)) {
        summary.checks.push(TargetCheck::new(
            format!("{} 1 KiB vs echo", cell.call.rpc()),
            "req/s >= 0.90x, p99 <= 1.2x",
            format!("{throughput:.2}x req/s, {p99:.2}x p99"),
            throughput >= 0.90 && p99 <= 1.2,
        ));
    }
}
