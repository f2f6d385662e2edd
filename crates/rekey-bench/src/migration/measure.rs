//! One measured migration run of either side, on either database: the table is reset, the
//! machine allowed to go quiet, the run timed under a CPU meter, and measured again when other
//! processes kept the machine busy meanwhile. Kept apart from the blocks that use it (the
//! batch-size sweep, the parallelism comparison, MariaDB) so that all of them follow the same
//! discipline, and so that the reset can be PostgreSQL's or MariaDB's.

use crate::cpu::{CpuMeter, QuietAttempts};
use crate::stats::median;
use crate::units::si;

/// PostgreSQL is part of what the PostgreSQL runs measure, not noise.
pub const POSTGRES: &[&str] = &["postgres"];
/// MariaDB's server (and MySQL's, by its /proc name) likewise for the MariaDB runs.
pub const MARIADB: &[&str] = &["mariadbd", "mysqld"];

/// One side's kept run: rows per second, the cores other processes kept busy, and the
/// cores (this process, the database server) it used.
pub struct SideRun {
    pub rows_per_s: f64,
    pub others: f64,
    pub cores: (f64, f64),
}

/// Resets the table with `reset`, then runs `migrate` (rows per second, and what else it
/// returns) under a CPU meter that counts `database` (process names) as part of the
/// measurement; measured again if other processes kept the machine busy meanwhile.
pub async fn measured<T>(
    quiet: &mut QuietAttempts,
    side: &str,
    database: &'static [&'static str],
    mut reset: impl AsyncFnMut() -> anyhow::Result<()>,
    mut migrate: impl AsyncFnMut() -> anyhow::Result<(f64, T)>,
) -> anyhow::Result<(SideRun, T)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        reset().await?;
        quiet.wait_for_quiet().await;
        let meter = CpuMeter::start_with(database);
        let (rows_per_s, outcome) = migrate().await?;
        let others = meter.others_cores();
        let cores = meter.average_cores();
        if quiet.discard_if_noisy(others, attempt) {
            eprintln!(
                "migration: {side} run at {} rows/s discarded (other processes {others:.2} cores), again",
                si(rows_per_s)
            );
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

/// The kept runs of one side over the rounds, for medians and per-round ratios.
#[derive(Default)]
pub struct Runs {
    pub rows_per_s: Vec<f64>,
    pub cores: Vec<(f64, f64)>,
}

impl Runs {
    pub fn push(&mut self, run: &SideRun) {
        self.rows_per_s.push(run.rows_per_s);
        self.cores.push(run.cores);
    }

    pub fn median(&self) -> f64 {
        median(&self.rows_per_s)
    }

    /// Median cores (this process, the database server).
    pub fn median_cores(&self) -> (f64, f64) {
        (
            median(&self.cores.iter().map(|c| c.0).collect::<Vec<_>>()),
            median(&self.cores.iter().map(|c| c.1).collect::<Vec<_>>()),
        )
    }

    /// "0.48+0.71": median cores of this process + of the database server.
    pub fn cores_label(&self) -> String {
        let (own, db) = self.median_cores();
        format!("{own:.2}+{db:.2}")
    }

    /// JSON: the median, every round, the median cores (`database` names the server).
    pub fn to_json(&self, database: &str) -> serde_json::Value {
        let (own, db) = self.median_cores();
        let mut value = serde_json::json!({
            "rows_per_s": self.median(),
            "rounds": self.rows_per_s,
            "cores_this_process": own,
        });
        value[format!("cores_{database}")] = serde_json::json!(db);
        value
    }
}
