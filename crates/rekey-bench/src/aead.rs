//! Scenario 3, AEAD: bytes per second of `rekey::crypto::EncryptionKey::encrypt` (one
//! thread, a full envelope per call: header, fresh random nonce, AES-256-GCM, tag) against
//! `openssl speed -evp aes-256-gcm` on the same machine, interleaved per size and round.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey::crypto::{EncryptionKey, KeyMaterial};
use serde_json::{json, Value};

use crate::cli::Plan;
use crate::cpu::{CpuMeter, QuietAttempts};
use crate::report::Section;
use crate::rpc::{payload, ENCRYPTION_KEY};
use crate::stats::{median, ratio};
use crate::table::Table;
use crate::units::{bytes_per_s, size_label};

/// Bytes per second of Rekey's encrypt over about `window`.
fn rekey_encrypt(key: &EncryptionKey, size: usize, window: Duration) -> anyhow::Result<f64> {
    let plaintext = payload(size);
    // Check the clock about every 64 KiB of work, never per call.
    let chunk = (64 * 1024 / size.max(1)).max(1);
    let mut calls: u64 = 0;
    let start = Instant::now();
    loop {
        for _ in 0..chunk {
            let out = key.encrypt(ENCRYPTION_KEY, 1, black_box(&plaintext), b"")?;
            black_box(out);
        }
        calls += chunk as u64;
        let elapsed = start.elapsed();
        if elapsed >= window {
            return Ok(calls as f64 * size as f64 / elapsed.as_secs_f64());
        }
    }
}

/// Runs `openssl speed` for one size; bytes per second from its machine-readable `+F` line.
fn openssl_speed(size: usize, seconds: u64, aead: bool) -> anyhow::Result<f64> {
    let mut command = Command::new("openssl");
    command.args(["speed", "-evp", "aes-256-gcm", "-elapsed", "-mr"]);
    if aead {
        command.arg("-aead");
    }
    command
        .args([
            "-seconds",
            &seconds.to_string(),
            "-bytes",
            &size.to_string(),
        ])
        .stdin(std::process::Stdio::null());
    let output = command.output().context("run openssl")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "openssl speed exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    text.lines()
        .filter(|l| l.starts_with("+F:"))
        .find_map(|l| l.rsplit(':').next()?.trim().parse::<f64>().ok())
        .with_context(|| format!("no +F line in openssl speed output: {text}"))
}

/// `openssl version`, or why it cannot be run.
fn openssl_version() -> Result<String, String> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => Err(format!("openssl version exited with {}", out.status)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("openssl is not installed (not on PATH): no baseline".to_owned())
        }
        Err(e) => Err(format!("cannot run openssl: {e}")),
    }
}

/// The kept rounds at one size, in bytes per second; openssl's are empty where it did not
/// run at that size.
#[derive(Default)]
struct SizeRuns {
    rekey: Vec<f64>,
    openssl: Vec<f64>,
    openssl_aead: Vec<f64>,
}

pub fn run(plan: &Plan) -> anyhow::Result<Section> {
    let key = EncryptionKey::new(&KeyMaterial::generate());
    let openssl = openssl_version();
    if let Err(reason) = &openssl {
        eprintln!("aead: {reason}");
    }
    // Rekey's runs are as long as openssl's in a full run, so both see the same conditions.
    let window = if plan.quick {
        plan.duration.min(Duration::from_millis(100))
    } else {
        Duration::from_secs(plan.openssl_seconds)
    };
    // Warm-up: page in, spin up the CPU.
    rekey_encrypt(
        &key,
        1024,
        Duration::from_millis(if plan.quick { 20 } else { 500 }),
    )?;
    let mut quiet = QuietAttempts::new(plan);
    let runs = measure_rounds(plan, &key, openssl.is_ok(), window, &mut quiet)?;
    let cells = summarise(plan, &runs);
    let openssl_json: Value = match &openssl {
        Ok(version) => json!({
            "version": version,
            "command": format!(
                "openssl speed -evp aes-256-gcm -elapsed -mr [-aead] -seconds {} -bytes <size>",
                plan.openssl_seconds
            ),
            "sizes": plan.openssl_sizes,
        }),
        Err(reason) => json!({ "unavailable": reason }),
    };
    Ok(Section {
        value: json!({
            "measured": "rekey::crypto::EncryptionKey::encrypt, one thread, new random nonce and output buffer per call, no associated data",
            "rekey_window_secs": window.as_secs_f64(),
            "rounds": plan.rounds,
            "waited_for_quiet_secs": quiet.waited_secs,
            "discarded_noisy_pairs": quiet.discarded,
            "openssl": openssl_json,
            "cells": cells,
        }),
        checks: Vec::new(),
    })
}

/// Every round measures each size with Rekey, then with openssl where it runs at that
/// size, measuring the set again when other processes were busy meanwhile.
fn measure_rounds(
    plan: &Plan,
    key: &EncryptionKey,
    openssl_available: bool,
    window: Duration,
    quiet: &mut QuietAttempts,
) -> anyhow::Result<Vec<SizeRuns>> {
    let sizes = &plan.aead_sizes;
    let mut runs: Vec<SizeRuns> = sizes.iter().map(|_| SizeRuns::default()).collect();
    for round in 1..=plan.rounds {
        for (&size, runs) in sizes.iter().zip(runs.iter_mut()) {
            for attempt in quiet.numbers() {
                quiet.wait_for_quiet_blocking();
                // openssl runs as a waited-for child: its CPU counts as this process's.
                let meter = CpuMeter::start();
                let a = rekey_encrypt(key, size, window)?;
                let mut line = format!(
                    "aead round {round}/{}: {:>7} Rekey {:>12}",
                    plan.rounds,
                    size_label(size),
                    bytes_per_s(a)
                );
                let mut b = None;
                let mut c = None;
                if openssl_available && plan.openssl_sizes.contains(&size) {
                    let v = openssl_speed(size, plan.openssl_seconds, false)?;
                    line += &format!(" | openssl {:>12}", bytes_per_s(v));
                    b = Some(v);
                    if plan.openssl_aead {
                        let v = openssl_speed(size, plan.openssl_seconds, true)?;
                        line += &format!(" | openssl -aead {:>12}", bytes_per_s(v));
                        c = Some(v);
                    }
                }
                let others = meter.others_cores();
                let noisy = quiet.discard_if_noisy(others, attempt);
                eprintln!(
                    "{line} | other processes {others:.2} cores{}",
                    if noisy { " -> discarded, again" } else { "" }
                );
                if noisy {
                    continue;
                }
                runs.rekey.push(a);
                runs.openssl.extend(b);
                runs.openssl_aead.extend(c);
                break;
            }
        }
    }
    Ok(runs)
}

/// Prints the table; the JSON cells.
fn summarise(plan: &Plan, runs: &[SizeRuns]) -> Vec<Value> {
    let mut table = Table::new(
        &format!(
            "AES-256-GCM encrypt, one thread: medians of {} round(s)",
            plan.rounds
        ),
        &[
            "size",
            "Rekey",
            "openssl -evp",
            "ratio",
            "openssl -evp -aead",
            "ratio",
        ],
    );
    let optional = |runs: &Vec<f64>| (!runs.is_empty()).then(|| median(runs));
    let mut cells = Vec::new();
    for (&size, runs) in plan.aead_sizes.iter().zip(runs) {
        let a = median(&runs.rekey);
        let b = optional(&runs.openssl);
        let c = optional(&runs.openssl_aead);
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), bytes_per_s);
        let show_ratio =
            |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.2}", ratio(a, v)));
        table.row(vec![
            size_label(size),
            bytes_per_s(a),
            show(b),
            show_ratio(b),
            show(c),
            show_ratio(c),
        ]);
        cells.push(json!({
            "bytes": size,
            "rekey_bytes_per_s": a,
            "rekey_rounds": runs.rekey,
            "openssl_bytes_per_s": b,
            "openssl_rounds": runs.openssl,
            "ratio": b.map(|b| ratio(a, b)),
            "openssl_aead_bytes_per_s": c,
            "ratio_aead": c.map(|c| ratio(a, c)),
        }));
    }
    table.print();
    cells
}
