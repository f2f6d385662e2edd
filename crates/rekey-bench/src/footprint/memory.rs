//! Resident memory of the `rekey serve` process: idle, sampled while scenario 1's cells run
//! against it, and idle again after.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::process::Server;
use crate::cli::Plan;
use crate::load;
use crate::rekey_server::bearer_from_data_dir;
use crate::rpc::{self, Cell};
use crate::units::si;

/// What `measure` found, in bytes, and the load that ran meanwhile.
pub struct Memory {
    pub idle: u64,
    /// Highest VmRSS sampled while the load ran.
    pub peak_under_load: u64,
    /// VmHWM after the load: the kernel's own peak, which sampling can miss.
    pub hwm: u64,
    pub idle_after_load: u64,
    pub load: Value,
}

/// Idle RSS, then RSS sampled every 50 ms while every scenario-1 cell runs against the
/// process, then VmHWM and idle RSS after.
pub async fn measure(plan: &Plan, server: &Server) -> anyhow::Result<Memory> {
    let pid = server.pid();
    settle(plan).await;
    let (idle, _) = memory(pid)?;

    let admin = bearer_from_data_dir(&server.data_dir)?;
    let channels = load::connect(&server.url, plan.connections).await?;
    let auth = rpc::load_token(&channels[0], admin.as_ref()).await?;
    let (cells, _) = rpc::selected_cells(&channels[0], auth.as_ref(), plan).await?;
    let sampler = PeakSampler::start(pid);
    let rates = load_pass(plan, &channels, auth.as_ref(), &cells).await;
    let peak_under_load = sampler.stop().await;
    let rates = rates?;
    let (_, hwm) = memory(pid)?;
    drop(channels);
    settle(plan).await;
    let (idle_after_load, _) = memory(pid)?;
    Ok(Memory {
        idle,
        peak_under_load,
        hwm,
        idle_after_load,
        load: json!({
            "connections": plan.connections,
            "in_flight_per_connection": plan.in_flight,
            "window_secs": plan.duration.as_secs_f64(),
            "note": "one pass over the scenario-1 cells against the separate server process, load from this process; one sample, no baseline",
            "cells": rates,
        }),
    })
}

/// Lets the process reach its idle state (background tasks started, buffers released)
/// before its RSS is read.
async fn settle(plan: &Plan) {
    tokio::time::sleep(if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    })
    .await;
}

/// One run of each cell against the server process; each cell's rate, for the JSON.
async fn load_pass(
    plan: &Plan,
    channels: &[Channel],
    auth: Option<&AsciiMetadataValue>,
    cells: &[Cell],
) -> anyhow::Result<Vec<Value>> {
    let mut rates = Vec::new();
    for cell in cells {
        let stats = load::run(
            channels,
            plan.in_flight,
            auth,
            &cell.call,
            plan.warmup,
            plan.duration,
        )
        .await;
        if stats.errors > 0 {
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
            "label": cell.label(),
            "req_per_s": stats.req_per_s(),
            "p99_us": stats.p99_us(),
        }));
    }
    Ok(rates)
}

/// A task that samples a process's VmRSS every 50 ms and keeps the highest.
struct PeakSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
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
        Self { peak, stop, task }
    }

    /// Stops sampling; the highest VmRSS seen.
    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
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
