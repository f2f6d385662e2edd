//! Results: statistics (medians, percentiles, ratios), printed tables, the targets of the
//! issue checked against the measurements, and the JSON file.

use std::path::Path;

use serde_json::{json, Map, Value};

/// Median of `values` (mean of the two middle ones for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// Nearest-rank percentile `q` (0..=1) of ascending `sorted`; 0 when empty.
pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `a / b`, or 0 when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// 12.3k, 4.56M: a rate or count for a table.
pub fn si(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2}G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Bytes per second as MB/s or GB/s (decimal, as `openssl speed`).
pub fn bytes_per_s(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} GB/s", value / 1e9)
    } else {
        format!("{:.1} MB/s", value / 1e6)
    }
}

/// Microseconds as µs or ms.
pub fn micros(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

pub fn size_label(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

/// A plain-text table printed to standard output.
pub struct Table {
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, headers: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .take(columns)
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    if i == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        println!("\n{}", self.title);
        println!("{}", line(&self.headers));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for row in &self.rows {
            println!("{}", line(row));
        }
    }
}

/// One target of the issue, checked against a measurement.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

impl TargetCheck {
    pub fn new(name: impl Into<String>, target: &str, measured: String, met: bool) -> Self {
        Self {
            name: name.into(),
            target: target.to_owned(),
            measured,
            met,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "target": self.target,
            "measured": self.measured,
            "met": self.met,
        })
    }
}

/// What a scenario hands back: its JSON section and its target checks.
pub struct Section {
    pub value: Value,
    pub checks: Vec<TargetCheck>,
}

/// A scenario that could not run here for a reason outside Rekey (no PostgreSQL, no `rekey`
/// binary); with `--scenario all` it is reported and skipped rather than failing the run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Everything measured in one invocation.
pub struct Report {
    meta: Map<String, Value>,
    sections: Map<String, Value>,
    checks: Vec<TargetCheck>,
}

impl Report {
    pub fn new(meta: Map<String, Value>) -> Self {
        Self {
            meta,
            sections: Map::new(),
            checks: Vec::new(),
        }
    }

    pub fn add(&mut self, scenario: &str, section: Section) {
        self.sections.insert(scenario.to_owned(), section.value);
        self.checks.extend(section.checks);
    }

    pub fn add_status(&mut self, scenario: &str, status: &str, reason: &str) {
        self.sections
            .insert(scenario.to_owned(), json!({ status: reason }));
    }

    pub fn print_targets(&self) {
        if self.checks.is_empty() {
            return;
        }
        let mut table = Table::new(
            "Targets (issue #6)",
            &["target", "goal", "measured", "status"],
        );
        for check in &self.checks {
            table.row(vec![
                check.name.clone(),
                check.target.clone(),
                check.measured.clone(),
                if check.met { "met" } else { "NOT MET" }.to_owned(),
            ]);
        }
        table.print();
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let mut root = self.meta.clone();
        for (name, value) in &self.sections {
            root.insert(name.clone(), value.clone());
        }
        root.insert(
            "targets".into(),
            Value::Array(self.checks.iter().map(TargetCheck::to_json).collect()),
        );
        let text = serde_json::to_string_pretty(&Value::Object(root))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}

/// CPU time used on the whole machine and by this process (with its waited-for children)
/// between `start` and `finish`: what else ran during a scenario (other builds, other
/// tenants) shows up as CPU used outside this process.
pub struct CpuMeter {
    wall: std::time::Instant,
    machine_busy: f64,
    own: f64,
    /// Processes that are part of the measurement (PostgreSQL for the migration scenario).
    part_of_it: &'static [&'static str],
    theirs: f64,
}

/// A run during which other processes kept more cores than this busy is measured again
/// (up to `--attempts` times).
pub const NOISY_CORES: f64 = 0.25;

impl CpuMeter {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As `start`, counting processes named in `part_of_it` (by /proc comm) as part of the
    /// measurement rather than as other processes.
    pub fn start_with(part_of_it: &'static [&'static str]) -> Self {
        Self {
            wall: std::time::Instant::now(),
            machine_busy: machine_busy_secs(),
            own: own_cpu_secs(),
            part_of_it,
            theirs: named_cpu_secs(part_of_it),
        }
    }

    /// Average cores kept busy by other processes since `start`.
    pub fn others_cores(&self) -> f64 {
        self.finish()["other_processes_avg_cores"]
            .as_f64()
            .unwrap_or(0.0)
    }

    /// JSON: wall seconds, CPU seconds of this process, CPU seconds of everything else, and
    /// the average number of cores the rest of the machine kept busy.
    pub fn finish(&self) -> Value {
        let wall = self.wall.elapsed().as_secs_f64();
        let busy = machine_busy_secs() - self.machine_busy;
        let own = own_cpu_secs() - self.own;
        let theirs = named_cpu_secs(self.part_of_it) - self.theirs;
        let others = (busy - own - theirs).max(0.0);
        json!({
            "wall_secs": wall,
            "this_process_cpu_secs": own,
            "measured_processes_cpu_secs": theirs,
            "other_processes_cpu_secs": others,
            "other_processes_avg_cores": if wall > 0.0 { others / wall } else { 0.0 },
        })
    }
}

/// CPU seconds of every process whose name (/proc/<pid>/comm) is in `names`.
fn named_cpu_secs(names: &[&str]) -> f64 {
    if names.is_empty() {
        return 0.0;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !names.contains(&&stat[open + 1..close]) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // state is fields[0]; utime and stime are fields 14 and 15 overall.
        let get = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        total += get(11) + get(12);
    }
    total / TICKS_PER_SEC
}

/// Cores kept busy by other processes over `window` (machine busy time minus this
/// process's own).
pub fn others_busy_cores(window: std::time::Duration) -> f64 {
    let busy = machine_busy_secs();
    let own = own_cpu_secs();
    std::thread::sleep(window);
    let others = (machine_busy_secs() - busy) - (own_cpu_secs() - own);
    (others / window.as_secs_f64()).max(0.0)
}

/// Waits (up to `max_wait`) until other processes use less than a quarter of a core, so
/// that a measurement does not start in the middle of someone else's build. Returns the
/// seconds waited. The check itself takes half a second.
pub fn wait_for_quiet_blocking(max_wait: std::time::Duration) -> f64 {
    if max_wait.is_zero() {
        return 0.0;
    }
    let started = std::time::Instant::now();
    loop {
        let busy = others_busy_cores(std::time::Duration::from_millis(500));
        if busy < 0.25 || started.elapsed() >= max_wait {
            return started.elapsed().as_secs_f64();
        }
    }
}

/// [`wait_for_quiet_blocking`] from async code.
pub async fn wait_for_quiet(max_wait: std::time::Duration) -> f64 {
    tokio::task::spawn_blocking(move || wait_for_quiet_blocking(max_wait))
        .await
        .unwrap_or(0.0)
}

const TICKS_PER_SEC: f64 = 100.0;

/// Busy CPU seconds of the whole machine since boot (/proc/stat, all but idle and iowait).
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let busy: f64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / TICKS_PER_SEC
}

/// CPU seconds of this process and its waited-for children (/proc/self/stat).
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime is field 14 overall.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // after ')' : state(0) ppid(1) ... utime is index 11, stime 12, cutime 13, cstime 14
    // (state is not numeric and was filtered out, so shift by one).
    let get = |i: usize| fields.get(i - 1).copied().unwrap_or(0.0);
    (get(11) + get(12) + get(13) + get(14)) / TICKS_PER_SEC
}

/// The machine: logical CPUs, CPU model, memory, kernel.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_mib": mem_kib / 1024,
        "kernel": kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&sorted, 1.0), 100.0);
        assert_eq!(percentile(&[7], 0.99), 7.0);
    }
}
