//! Scenario 10, Vault Transit over HTTP/1.1: the real `rekey serve` (the binary beside this
//! one, on the embedded default, HTTP API on 127.0.0.1:0 as in the external scenario) loaded
//! in one run by Debian's `wrk` with Transit's JSON `POST /v1/transit/encrypt/<key>` and by
//! `h2load` with gRPC Encrypt, of 64 B and 1 KiB plaintexts alike. wrk keeps 64 connections
//! on 2 threads, one request in flight on each (HTTP/1.1 does not multiplex); h2load runs the
//! external scenario's two shapes, 64 x 1 on 2 threads (the same load over HTTP/2) and 4 x 32
//! on one. Every wrk answer must be 2xx (its script counts them) and every h2load reply 200,
//! or the scenario fails; before each round one Transit call must answer 200 with a
//! `vault:v1:` value that gRPC Decrypt opens to the plaintext, and one gRPC Encrypt must
//! answer grpc-status OK. As in scenario 1, each set of three runs waits for the machine to go
//! quiet first and is measured again when other processes kept it busy.

mod wrk;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use base64::Engine as _;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::DecryptRequest;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

use crate::cli::Plan;
use crate::cpu::{pid_cpu_secs, CpuMeter, QuietAttempts};
use crate::external::h2load::{self, Request};
use crate::external::{encrypt_request, Check, KEY, SHAPES};
use crate::footprint::process::{rekey_binary, Server};
use crate::rekey_server::request;
use crate::report::{Section, TargetCheck};
use crate::stats::{median, median_of_ratios};
use crate::table::Table;
use crate::units::{si, size_label};

/// Transit encrypt of 64 B against gRPC Encrypt of 64 B at the same load (64 connections,
/// one request in flight on each), same run.
const RATIO_TARGET: f64 = 0.5;
const SIZES: [usize; 2] = [64, 1024];
/// The HTTP/1.1 load: as many connections and generator threads as h2load's 64 x 1.
const WRK: wrk::Shape = wrk::Shape {
    connections: 64,
    threads: 2,
};

/// The three loads of one size, in the order of `Cell::sides`.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Transit,
    /// gRPC Encrypt at `SHAPES[i]` (0: 4 x 32, 1: 64 x 1).
    Grpc(usize),
}

impl Side {
    const ALL: [Side; 3] = [Side::Transit, Side::Grpc(1), Side::Grpc(0)];

    fn index(self) -> usize {
        Side::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Every run of one load.
#[derive(Default)]
struct Runs {
    req_per_s: Vec<f64>,
    server_cores: Vec<f64>,
    generator_cores: Vec<f64>,
    /// Transit: answers seen (every one 2xx); gRPC: replies h2load counted as succeeded.
    succeeded: u64,
}

/// One plaintext size: what each side sends, and its runs.
struct Cell {
    size: usize,
    body: String,
    script: std::path::PathBuf,
    grpc: Request,
    grpc_check: Check,
    sides: [Runs; 3],
}

pub async fn run(plan: &Plan) -> anyhow::Result<Section> {
    wrk::check_installed()?;
    h2load::check_installed()?;
    let binary = rekey_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-transit-")
        .tempdir()?;
    let data_dir = scratch.path().join("data");
    let (mut server, _) =
        Server::start(&binary, &data_dir, &scratch.path().join("rekey.log")).await?;
    let measured = measure(plan, &mut server, scratch.path()).await;
    let stopped = server.stop().await;
    let section = measured?;
    stopped?;
    Ok(section)
}

async fn measure(plan: &Plan, server: &mut Server, dir: &Path) -> anyhow::Result<Section> {
    let token = std::fs::read_to_string(server.data_dir.join("admin.token"))
        .context("the first start's admin token")?
        .trim()
        .to_owned();
    let http = server.http_url().await?;
    let channel = Channel::from_shared(server.url.clone())?.connect().await?;
    let warm_up = if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let load = Load {
        transit_url: format!("{http}/v1/transit/encrypt/{KEY}"),
        warm_up,
        duration: plan.duration.max(Duration::from_millis(500)),
        // In quick mode the one short run is all.
        wrk_warm_up: !plan.quick,
    };
    let mut cells = Vec::new();
    for size in SIZES {
        // The same bytes as the gRPC request's plaintext (0x5a each).
        let plaintext = base64::engine::general_purpose::STANDARD.encode(vec![0x5a; size]);
        let body = json!({ "plaintext": plaintext }).to_string();
        let name = format!("transit-encrypt-{size}");
        let script = wrk::write_script(dir, &name, &body, &token)?;
        let (grpc, grpc_check) = encrypt_request(dir, &token, size)?;
        cells.push(Cell {
            size,
            body,
            script,
            grpc,
            grpc_check,
            sides: Default::default(),
        });
    }
    let mut quiet = QuietAttempts::new(plan);
    let mut others = Vec::new();
    for round in 0..plan.rounds {
        for cell in &mut cells {
            transit_sample(&http, &token, &cell.body, cell.size, &channel).await?;
            cell.grpc_check.sample(&channel, &token).await?;
            for attempt in quiet.numbers() {
                quiet.wait_for_quiet().await;
                // The server is part of the measurement, not another process.
                let meter = CpuMeter::start_with(&["rekey"]);
                let mut set = Vec::new();
                // Rotate which side goes first, so that none always runs on a warmer server.
                for k in 0..Side::ALL.len() {
                    let side = Side::ALL[(round as usize + k) % Side::ALL.len()];
                    set.push((side, measure_side(side, cell, server, &load).await?));
                }
                let busy = meter.others_cores();
                let noisy = quiet.discard_if_noisy(busy, attempt);
                let rate = |side: Side| {
                    set.iter()
                        .find(|(s, _)| *s == side)
                        .map_or(0.0, |(_, r)| r.req_per_s)
                };
                eprintln!(
                    "transit round {}/{}: {:<6} Transit {:>7} req/s | gRPC 64 x 1 {:>7} req/s | \
                     gRPC 4 x 32 {:>7} req/s | other processes {busy:.2} cores{}",
                    round + 1,
                    plan.rounds,
                    size_label(cell.size),
                    si(rate(Side::Transit)),
                    si(rate(Side::Grpc(1))),
                    si(rate(Side::Grpc(0))),
                    if noisy { " -> discarded, again" } else { "" },
                );
                if noisy {
                    continue;
                }
                for (side, run) in set {
                    let runs = &mut cell.sides[side.index()];
                    runs.req_per_s.push(run.req_per_s);
                    runs.server_cores.push(run.server_cores);
                    runs.generator_cores.push(run.generator_cores);
                    runs.succeeded += run.succeeded;
                }
                others.push(busy);
                break;
            }
        }
    }
    let mut section = report(&cells);
    if let Some(object) = section.value.as_object_mut() {
        object.insert("other_processes_cores_per_set".into(), json!(others));
        object.insert("quiet_waited_secs".into(), json!(quiet.waited_secs));
        object.insert("sets_measured_again".into(), json!(quiet.discarded));
    }
    Ok(section)
}

/// How each run is made: URLs, durations.
struct Load {
    transit_url: String,
    warm_up: Duration,
    duration: Duration,
    /// A 1 s wrk run before the measured one (wrk has no warm-up of its own).
    wrk_warm_up: bool,
}

/// One run of one side.
struct SideRun {
    req_per_s: f64,
    server_cores: f64,
    generator_cores: f64,
    succeeded: u64,
}

async fn measure_side(
    side: Side,
    cell: &Cell,
    server: &Server,
    load: &Load,
) -> anyhow::Result<SideRun> {
    // This server's own CPU (another `rekey` may run on the machine).
    let server_before = pid_cpu_secs(server.pid());
    let duration = load.duration;
    let (req_per_s, generator_cpu, succeeded, wall) = match side {
        Side::Transit => {
            let (url, script) = (load.transit_url.clone(), cell.script.clone());
            let warm = load.wrk_warm_up;
            // Checked like the measured run (any error fails), then dropped.
            let run = tokio::task::spawn_blocking(move || {
                if warm {
                    wrk::run(&url, &script, WRK, Duration::from_secs(1))?;
                }
                wrk::run(&url, &script, WRK, duration)
            })
            .await??;
            let secs = wrk::whole_secs(duration) + if warm { 1.0 } else { 0.0 };
            (run.req_per_s, run.generator_cpu_secs, run.responses, secs)
        }
        Side::Grpc(s) => {
            let shape = SHAPES[s];
            let (url, request, warm_up) = (server.url.clone(), cell.grpc.clone(), load.warm_up);
            let run = tokio::task::spawn_blocking(move || {
                h2load::run(&url, &request, shape, warm_up, duration)
            })
            .await??;
            if run.failed > 0 || run.succeeded == 0 {
                bail!(
                    "h2load: {} of gRPC Encrypt {} at {} failed, {} succeeded",
                    run.failed,
                    size_label(cell.size),
                    shape.label(),
                    run.succeeded
                );
            }
            let wall = (warm_up + duration).as_secs_f64();
            (run.req_per_s, run.generator_cpu_secs, run.succeeded, wall)
        }
    };
    Ok(SideRun {
        req_per_s,
        server_cores: (pid_cpu_secs(server.pid()) - server_before) / wall,
        generator_cores: generator_cpu / wall,
        succeeded,
    })
}

/// One Transit encrypt over a connection of its own: it must answer 200 with a `vault:v1:`
/// value of key version 1, which gRPC Decrypt must open to the plaintext sent.
async fn transit_sample(
    http: &str,
    token: &str,
    body: &str,
    size: usize,
    channel: &Channel,
) -> anyhow::Result<()> {
    let addr = http.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /v1/transit/encrypt/{KEY} HTTP/1.1\r\nHost: {addr}\r\nX-Vault-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .context("the Transit sample call: no answer within 10 s")??;
    let (status, reply) = http_reply(&answer)?;
    ensure!(
        status == 200,
        "the Transit sample call answered {status}: {reply}"
    );
    let ciphertext = reply
        .pointer("/data/ciphertext")
        .and_then(Value::as_str)
        .with_context(|| format!("no data.ciphertext in the Transit answer {reply}"))?;
    ensure!(
        ciphertext.starts_with("vault:v1:")
            && reply.pointer("/data/key_version") == Some(&json!(1)),
        "the Transit answer is not a version-1 value: {reply}"
    );
    let message = DecryptRequest {
        ciphertext: ciphertext.as_bytes().to_vec(),
        ..Default::default()
    };
    let auth = format!("Bearer {token}").parse()?;
    let reply = KeyServiceClient::new(channel.clone())
        .decrypt(request(message, Some(&auth)))
        .await
        .context("gRPC Decrypt of the Transit sample's value")?
        .into_inner();
    ensure!(
        reply.plaintext == vec![0x5a; size],
        "gRPC Decrypt of the Transit value gave other bytes than were sent"
    );
    Ok(())
}

/// The status and JSON body of an HTTP/1.1 answer read to its end (Content-Length or
/// chunked).
fn http_reply(answer: &[u8]) -> anyhow::Result<(u16, Value)> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers in the HTTP answer")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut body = answer[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    let value = serde_json::from_slice(&body).with_context(|| {
        format!(
            "the HTTP {status} answer is not JSON: {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    Ok((status, value))
}

fn dechunk(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk size without its line end")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        ensure!(rest.len() >= size + 2, "a chunk cut short");
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn report(cells: &[Cell]) -> Section {
    let mut table = Table::new(
        "Vault Transit over HTTP/1.1 (wrk) against gRPC Encrypt (h2load), rekey serve (medians)",
        &[
            "request",
            "generator",
            "shape",
            "req/s",
            "server cores",
            "generator cores",
            "server µs/req",
            "Transit / this",
        ],
    );
    let mut json_cells = Vec::new();
    let mut checks = Vec::new();
    for cell in cells {
        let label = size_label(cell.size);
        let transit = &cell.sides[Side::Transit.index()];
        let mut ratios = Vec::new();
        for side in Side::ALL {
            let runs = &cell.sides[side.index()];
            let (request, generator, shape) = match side {
                Side::Transit => (
                    format!("Transit encrypt {label}"),
                    "wrk",
                    format!("{} (HTTP/1.1)", WRK.label()),
                ),
                Side::Grpc(s) => (format!("gRPC Encrypt {label}"), "h2load", SHAPES[s].label()),
            };
            let ratio = median_of_ratios(&transit.req_per_s, &runs.req_per_s);
            if let Side::Grpc(s) = side {
                ratios.push((SHAPES[s], ratio));
            }
            let rate = median(&runs.req_per_s);
            let server_cores = median(&runs.server_cores);
            let per_req_us = if rate > 0.0 {
                server_cores / rate * 1e6
            } else {
                0.0
            };
            table.row(vec![
                request,
                generator.to_owned(),
                shape,
                si(rate),
                format!("{server_cores:.2}"),
                format!("{:.2}", median(&runs.generator_cores)),
                format!("{per_req_us:.1}"),
                if side == Side::Transit {
                    String::new()
                } else {
                    format!("{ratio:.2}x")
                },
            ]);
        }
        let side_json = |side: Side, extra: Value| {
            let runs = &cell.sides[side.index()];
            let mut value = json!({
                "req_per_s": median(&runs.req_per_s),
                "rounds_req_per_s": runs.req_per_s,
                "server_cores": median(&runs.server_cores),
                "generator_cores": median(&runs.generator_cores),
            });
            if let (Some(object), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
                object.extend(extra.clone());
            }
            value
        };
        let same_shape = ratios
            .iter()
            .find(|(shape, _)| shape.connections == WRK.connections)
            .map_or(0.0, |(_, r)| *r);
        let multiplexed = ratios
            .iter()
            .find(|(shape, _)| shape.connections != WRK.connections)
            .map_or(0.0, |(_, r)| *r);
        json_cells.push(json!({
            "payload_bytes": cell.size,
            "transit": side_json(Side::Transit, json!({
                "generator": "wrk",
                "connections": WRK.connections,
                "wrk_threads": WRK.threads,
                "responses": transit.succeeded,
                "non_2xx": 0,
            })),
            "grpc_64x1": side_json(Side::Grpc(1), json!({
                "generator": "h2load",
                "connections": SHAPES[1].connections,
                "streams_per_connection": SHAPES[1].streams,
                "h2load_threads": SHAPES[1].threads,
                "succeeded": cell.sides[Side::Grpc(1).index()].succeeded,
                "failed": 0,
            })),
            "grpc_4x32": side_json(Side::Grpc(0), json!({
                "generator": "h2load",
                "connections": SHAPES[0].connections,
                "streams_per_connection": SHAPES[0].streams,
                "h2load_threads": SHAPES[0].threads,
                "succeeded": cell.sides[Side::Grpc(0).index()].succeeded,
                "failed": 0,
            })),
            "ratio_transit_vs_grpc_64x1": same_shape,
            "ratio_transit_vs_grpc_4x32": multiplexed,
        }));
        if cell.size == 64 {
            checks.push(TargetCheck::new(
                "Transit encrypt 64 B (HTTP/1.1, 64 conn) vs gRPC Encrypt 64 B at 64 x 1",
                ">= 0.50x",
                format!("{same_shape:.2}x"),
                same_shape >= RATIO_TARGET,
            ));
        }
    }
    table.print();
    Section {
        value: json!({
            "generators": { "transit": "wrk", "grpc": "h2load" },
            "key": KEY,
            "cells": json_cells,
        }),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_replies_are_read_with_a_length_or_in_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"data\":{}}";
        let (status, value) = http_reply(plain).unwrap();
        assert_eq!((status, value), (200, json!({ "data": {} })));
        let chunked = b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n\
            5\r\n{\"err\r\n8\r\nors\":[]}\r\n0\r\n\r\n";
        let (status, value) = http_reply(chunked).unwrap();
        assert_eq!((status, value), (403, json!({ "errors": [] })));
        assert!(http_reply(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
