//! What else the machine is doing: CPU time of this process, of the processes that are part
//! of a measurement and of everything else, from /proc; waiting for the machine to go quiet
//! before a measurement and measuring again when it did not stay quiet.

use serde_json::{json, Value};

use crate::cli::Plan;

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
const NOISY_CORES: f64 = 0.25;

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

    /// Average cores used since `start` by (this process, the processes that are part of the
    /// measurement).
    pub fn average_cores(&self) -> (f64, f64) {
        let cpu = self.finish();
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
pub fn named_cpu_secs(names: &[&str]) -> f64 {
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
        total += stat_cpu_ticks(&stat[close + 1..]);
    }
    total / TICKS_PER_SEC
}

/// CPU seconds of process `pid` (0 once it is gone).
pub fn pid_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .map_or(0.0, |close| stat_cpu_ticks(&stat[close + 1..]))
        / TICKS_PER_SEC
}

/// utime + stime, in ticks, of a /proc/<pid>/stat line after the command's closing `)`.
fn stat_cpu_ticks(after_command: &str) -> f64 {
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    // state is fields[0]; utime and stime are fields 14 and 15 overall.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    get(11) + get(12)
}

/// Cores kept busy by other processes over `window` (machine busy time minus this
/// process's own).
fn others_busy_cores(window: std::time::Duration) -> f64 {
    let busy = machine_busy_secs();
    let own = own_cpu_secs();
    std::thread::sleep(window);
    let others = (machine_busy_secs() - busy) - (own_cpu_secs() - own);
    (others / window.as_secs_f64()).max(0.0)
}

/// Waits (up to `max_wait`) until other processes use less than a quarter of a core, so
/// that a measurement does not start in the middle of someone else's build. Returns the
/// seconds waited. The check itself takes half a second.
fn wait_for_quiet_blocking(max_wait: std::time::Duration) -> f64 {
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
async fn wait_for_quiet(max_wait: std::time::Duration) -> f64 {
    tokio::task::spawn_blocking(move || wait_for_quiet_blocking(max_wait))
        .await
        .unwrap_or(0.0)
}

/// The discipline every A/B loop follows against noisy neighbours: wait for the machine to
/// go quiet before each attempt, and discard an attempt during which other processes kept
/// the machine busy, unless it is the last one allowed. Counts what that cost, for the JSON.
pub struct QuietAttempts {
    quiet_wait: std::time::Duration,
    attempts: u32,
    /// Seconds spent waiting for quiet, over all attempts.
    pub waited_secs: f64,
    /// Attempts measured again because the machine was busy.
    pub discarded: u32,
}

impl QuietAttempts {
    pub fn new(plan: &Plan) -> Self {
        Self {
            quiet_wait: plan.quiet_wait,
            attempts: plan.attempts,
            waited_secs: 0.0,
            discarded: 0,
        }
    }

    /// The attempts allowed for one measurement, numbered from 1.
    pub fn numbers(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.attempts
    }

    /// Waits (up to `--quiet-wait-secs`) for other processes to go quiet.
    pub async fn wait_for_quiet(&mut self) {
        self.waited_secs += wait_for_quiet(self.quiet_wait).await;
    }

    /// [`Self::wait_for_quiet`] for code that runs on no runtime.
    pub fn wait_for_quiet_blocking(&mut self) {
        self.waited_secs += wait_for_quiet_blocking(self.quiet_wait);
    }

    /// Whether attempt number `attempt`, during which other processes kept `others_cores`
    /// busy, is thrown away to be measured again; counts it when it is. The last attempt is
    /// always kept, so that a busy machine slows the run down rather than stopping it.
    pub fn discard_if_noisy(&mut self, others_cores: f64, attempt: u32) -> bool {
        let noisy = others_cores > NOISY_CORES && attempt < self.attempts;
        if noisy {
            self.discarded += 1;
        }
        noisy
    }
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
