//! Scenario 4, footprint: the real `rekey serve` process (the binary beside this one) on the
//! embedded default — time from spawning it to gRPC health SERVING (first start on an empty
//! data folder, and restart on the same folder), and its resident memory at idle and under
//! the load of scenario 1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::cli::Plan;
use crate::load;
use crate::rekey_server::{bearer_from_data_dir, client_token};
use crate::report::{median, mib, si, size_label, Section, Table, TargetCheck, Unavailable};

const KEY_SERVICE: &str = "rekey.v1.KeyService";
const RSS_TARGET_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
const START_TARGET_MS: f64 = 300.0;

/// `rekey` in the folder of this executable.
fn rekey_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("path of rekey-bench")?;
    let path = me
        .parent()
        .context("folder of rekey-bench")?
        .join(format!("rekey{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        return Err(Unavailable(format!(
            "{} not found: build it beside rekey-bench (cargo build --release -p rekey-bench -p rekey)",
            path.display()
        ))
        .into());
    }
    Ok(path)
}

/// A `rekey serve` child process.
struct Server {
    child: Child,
    url: String,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (graceful drain), then SIGKILL if it does not stop.
    async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!("rekey serve did not stop within 15 s of SIGTERM; killed")
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether the server answers health SERVING for the key service.
async fn serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_owned()) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
    else {
        return false;
    };
    let mut client = HealthClient::new(channel);
    match client
        .check(HealthCheckRequest {
            service: KEY_SERVICE.into(),
        })
        .await
    {
        Ok(reply) => reply.into_inner().status == ServingStatus::Serving as i32,
        Err(_) => false,
    }
}

/// Spawns `rekey serve` on `data_dir` with a clean environment (the embedded default) and
/// returns it with the time from spawning to health SERVING.
async fn start(binary: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<(Server, Duration)> {
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut command = Command::new(binary);
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if name_str.starts_with("REKEY_")
            || name_str.starts_with("KEY_ROTATION_")
            || name_str.ends_with("_ENCRYPTION_KEY")
        {
            command.env_remove(&name);
        }
    }
    // The HTTP admin API runs as by default, but on a free port rather than 8080.
    command.env("REKEY_HTTP_LISTEN", "127.0.0.1:0");
    let spawned = Instant::now();
    let child = command.spawn().context("spawn rekey serve")?;
    let mut server = Server {
        child,
        url,
        data_dir: data_dir.to_owned(),
        log: log.to_owned(),
    };
    // A new probe every 2 ms, each on its own connection, without waiting for the ones
    // before: a probe that connected before the server accepted can stall for a TCP
    // delayed-ACK interval (see BENCHMARKS.md), and must not hide the later ones.
    let (answered, mut first_answer) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    loop {
        let url = server.url.clone();
        let answered = answered.clone();
        tokio::spawn(async move {
            if serving(&url).await {
                let _ = answered.send(Instant::now());
            }
        });
        if let Ok(Some(at)) =
            tokio::time::timeout(Duration::from_millis(2), first_answer.recv()).await
        {
            return Ok((server, at - spawned));
        }
        if let Some(status) = server.child.try_wait()? {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            bail!("rekey serve exited with {status} before serving; its log:\n{log}");
        }
        if spawned.elapsed() > Duration::from_secs(30) {
            let _ = server.child.kill();
            bail!(
                "rekey serve was not SERVING within 30 s; log in {}",
                server.log.display()
            );
        }
    }
}

/// Milliseconds of `count` sequential health checks over one connection: what one
/// readiness probe costs once the server runs (the floor under start-to-SERVING).
async fn health_round_trips(url: &str, count: usize) -> anyhow::Result<Vec<f64>> {
    let channel = Endpoint::from_shared(url.to_owned())?.connect().await?;
    let mut client = HealthClient::new(channel);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        client
            .check(HealthCheckRequest {
                service: KEY_SERVICE.into(),
            })
            .await
            .context("health Check")?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// (VmRSS, VmHWM) of `pid` in bytes.
fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .with_context(|| format!("{name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

pub async fn run(plan: &Plan) -> anyhow::Result<Section> {
    let binary = rekey_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-footprint-")
        .tempdir()?;
    let log = scratch.path().join("rekey.log");
    let mut first_starts = Vec::new();
    let mut restarts = Vec::new();
    let mut kept = None;
    for i in 0..plan.footprint_starts {
        let data_dir = scratch.path().join(format!("data-{i}"));
        let (server, first) = start(&binary, &data_dir, &log).await?;
        server.stop().await?;
        let (server, again) = start(&binary, &data_dir, &log).await?;
        eprintln!(
            "footprint start {}/{}: first start {:.0} ms, restart {:.0} ms to SERVING",
            i + 1,
            plan.footprint_starts,
            first.as_secs_f64() * 1e3,
            again.as_secs_f64() * 1e3
        );
        first_starts.push(first.as_secs_f64() * 1e3);
        restarts.push(again.as_secs_f64() * 1e3);
        if i + 1 == plan.footprint_starts {
            kept = Some(server);
        } else {
            server.stop().await?;
        }
    }
    let server = kept.context("no server started")?;
    let probes = if plan.quick { 5 } else { 20 };
    let health_rtt = health_round_trips(&server.url, probes).await;
    let mut fresh_rtt = Vec::with_capacity(probes);
    for _ in 0..probes {
        let started = Instant::now();
        if serving(&server.url).await {
            fresh_rtt.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    let result = measure_memory(plan, &server).await;
    let stopped = server.stop().await;
    let (idle, peak_under_load, hwm, after, load_json) = result?;
    stopped?;

    let first = median(&first_starts);
    let restart = median(&restarts);
    let mut table = Table::new(
        "Footprint of `rekey serve` (embedded default, separate process)",
        &["measure", "value"],
    );
    table.row(vec![
        format!(
            "start to SERVING, first start (median of {})",
            first_starts.len()
        ),
        format!("{first:.0} ms"),
    ]);
    table.row(vec![
        format!("start to SERVING, restart (median of {})", restarts.len()),
        format!("{restart:.0} ms"),
    ]);
    let health_rtt = health_rtt?;
    table.row(vec![
        "one health Check on a running server, one connection (median)".into(),
        format!("{:.1} ms", median(&health_rtt)),
    ]);
    table.row(vec![
        "one health Check on a new connection, as the start probe does (median)".into(),
        format!("{:.1} ms", median(&fresh_rtt)),
    ]);
    table.row(vec!["RSS idle".into(), mib(idle as f64)]);
    table.row(vec![
        "RSS under scenario-1 load (peak sample)".into(),
        mib(peak_under_load as f64),
    ]);
    table.row(vec!["VmHWM after load".into(), mib(hwm as f64)]);
    table.row(vec!["RSS idle after load".into(), mib(after as f64)]);
    table.print();

    let checks = vec![
        TargetCheck::new(
            "RSS under load",
            "< 64 MiB",
            format!(
                "{} (peak sample), VmHWM {}",
                mib(peak_under_load as f64),
                mib(hwm as f64)
            ),
            (peak_under_load as f64) < RSS_TARGET_BYTES && (hwm as f64) < RSS_TARGET_BYTES,
        ),
        TargetCheck::new(
            "start to SERVING (first start)",
            "< 300 ms",
            format!("{first:.0} ms"),
            first < START_TARGET_MS,
        ),
        TargetCheck::new(
            "start to SERVING (restart)",
            "< 300 ms",
            format!("{restart:.0} ms"),
            restart < START_TARGET_MS,
        ),
    ];
    Ok(Section {
        value: json!({
            "binary": binary.display().to_string(),
            "command": "rekey serve --listen 127.0.0.1:<free port> --data-dir <scratch>, REKEY_* unset but REKEY_HTTP_LISTEN=127.0.0.1:0, logs to a file",
            "start_to_serving_ms": {
                "first_start": first,
                "restart": restart,
                "first_start_rounds": first_starts,
                "restart_rounds": restarts,
                "measured": "spawn() to the first grpc.health.v1 Check(rekey.v1.KeyService) answering SERVING; a new probe on a new connection every 2 ms, not waiting for earlier ones",
            },
            "health_check_round_trip_ms": {
                "median": median(&health_rtt),
                "rounds": health_rtt,
                "measured": "sequential grpc.health.v1 Check calls over one connection to the running server",
            },
            "health_check_new_connection_ms": {
                "median": median(&fresh_rtt),
                "rounds": fresh_rtt,
                "measured": "connect, HTTP/2 handshake and one Check, as the start-to-SERVING probe does it, against the running server",
            },
            "rss_idle_bytes": idle,
            "rss_under_load_bytes": peak_under_load,
            "vm_hwm_bytes": hwm,
            "rss_idle_after_load_bytes": after,
            "load": load_json,
        }),
        checks,
    })
}

type MemoryResult = (u64, u64, u64, u64, serde_json::Value);

/// Idle RSS, then RSS sampled every 50 ms while every scenario-1 cell runs against the
/// process, then VmHWM and idle RSS after.
async fn measure_memory(plan: &Plan, server: &Server) -> anyhow::Result<MemoryResult> {
    let pid = server.pid();
    tokio::time::sleep(if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    })
    .await;
    let (idle, _) = memory(pid)?;

    let admin = bearer_from_data_dir(&server.data_dir)?;
    let channels = load::connect(&server.url, plan.connections).await?;
    let auth = client_token(
        &channels[0],
        admin.as_ref(),
        &[crate::rpc::ENCRYPTION_KEY, crate::rpc::SIGNING_KEY],
    )
    .await?;
    let (cells, _) = crate::rpc::cells(&channels[0], auth.as_ref(), &plan.rpc_payloads).await?;
    let cells: Vec<_> = cells
        .into_iter()
        .filter(|c| plan.keeps(c.call.rpc(), c.payload))
        .collect();
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok((rss, _)) = memory(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut rates = Vec::new();
    for cell in &cells {
        let stats = load::run(
            &channels,
            plan.in_flight,
            auth.as_ref(),
            &cell.call,
            plan.warmup,
            plan.duration,
        )
        .await;
        if stats.errors > 0 {
            stop.store(true, Ordering::Relaxed);
            bail!(
                "{} against rekey serve: {} errors, first: {}",
                cell.label(),
                stats.errors,
                stats.first_error.unwrap_or_default()
            );
        }
        eprintln!(
            "footprint load: {:<22} {:>8} req/s (separate server process)",
            cell.label(),
            si(stats.req_per_s())
        );
        rates.push(json!({
            "rpc": cell.call.rpc(),
            "payload_bytes": cell.payload,
            "label": format!("{} {}", cell.call.rpc(), size_label(cell.payload)),
            "req_per_s": stats.req_per_s(),
            "p99_us": stats.p99_us(),
        }));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let (_, hwm) = memory(pid)?;
    drop(channels);
    tokio::time::sleep(if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    })
    .await;
    let (after, _) = memory(pid)?;
    let load_json = json!({
        "connections": plan.connections,
        "in_flight_per_connection": plan.in_flight,
        "window_secs": plan.duration.as_secs_f64(),
        "note": "one pass over the scenario-1 cells against the separate server process, load from this process; one sample, no baseline",
        "cells": rates,
    });
    Ok((idle, peak.load(Ordering::Relaxed), hwm, after, load_json))
}
