//! What the JSON says about the invocation itself: the command, the plan it resolved to,
//! and the machine it ran on, so that two result files can be told apart.

use serde_json::{json, Map, Value};

use crate::cli::{Options, Plan};

/// The top-level fields of the JSON file, before any scenario's section.
pub fn run_metadata(options: &Options, plan: &Plan) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(
        "command".into(),
        Value::String(std::env::args().collect::<Vec<_>>().join(" ")),
    );
    meta.insert("rekey_version".into(), json!(env!("CARGO_PKG_VERSION")));
    meta.insert("debug_build".into(), json!(cfg!(debug_assertions)));
    meta.insert("quick".into(), json!(plan.quick));
    meta.insert("scenario".into(), json!(options.scenario.name()));
    meta.insert("rounds".into(), json!(plan.rounds));
    meta.insert("duration_secs".into(), json!(plan.duration.as_secs_f64()));
    meta.insert(
        "started_unix".into(),
        json!(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)),
    );
    meta.insert("machine".into(), machine());
    meta
}

/// The machine: logical CPUs, CPU model, memory, kernel.
fn machine() -> Value {
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
