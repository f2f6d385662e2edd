//! Scenario 9, external load: the real `rekey serve` (the binary beside this one, on the
//! embedded default) loaded by Debian's `h2load` at two shapes — 4 connections x 32 streams
//! (a few multiplexing clients) and 64 connections x 1 stream (a fleet of instances with one
//! request each) — for Encrypt of 64 B and 1 KiB, with tonic's own health handler on the same
//! server as the same-run baseline, and the CPU used by the server and by the generator per
//! cell. Before each run, the same request goes through a gRPC client once and its
//! grpc-status must be OK (h2load sees HTTP statuses only).

pub(crate) mod h2load;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::EncryptRequest;
use serde_json::{json, Value};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use self::h2load::{Request, Shape};
use crate::cli::Plan;
use crate::cpu::named_cpu_secs;
use crate::footprint::process::{rekey_binary, Server};
use crate::rekey_server::request;
use crate::report::{Section, TargetCheck};
use crate::stats::{median, median_of_ratios};
use crate::table::Table;
use crate::units::si;

const HEALTH: &str = "/grpc.health.v1.Health/Check";
const ENCRYPT: &str = "/rekey.v1.KeyService/Encrypt";
pub(crate) const KEY: &str = "TOKEN_ENCRYPTION";
/// Encrypt 64 B at 64 x 1 against itself at 4 x 32 (issue #20).
const SHAPE_RATIO_TARGET: f64 = 0.8;

/// 4 x 32 on one h2load thread, 64 x 1 on two (the transit scenario loads gRPC the same way).
pub(crate) const SHAPES: [Shape; 2] = [
    Shape {
        connections: 4,
        streams: 32,
        threads: 1,
    },
    Shape {
        connections: 64,
        streams: 1,
        threads: 2,
    },
];

/// Every run of one request at one shape.
#[derive(Default)]
struct Cell {
    req_per_s: Vec<f64>,
    server_cores: Vec<f64>,
    generator_cores: Vec<f64>,
    failed: u64,
}

pub async fn run(plan: &Plan) -> anyhow::Result<Section> {
    h2load::check_installed()?;
    let binary = rekey_binary()?;
    let scratch = tempfile::Builder::new()
        .prefix("rekey-bench-external-")
        .tempdir()?;
    let data_dir = scratch.path().join("data");
    let (server, _) = Server::start(&binary, &data_dir, &scratch.path().join("rekey.log")).await?;
    let measured = measure(plan, &server, scratch.path()).await;
    let stopped = server.stop().await;
    let section = measured?;
    stopped?;
    Ok(section)
}

async fn measure(plan: &Plan, server: &Server, dir: &Path) -> anyhow::Result<Section> {
    let token = std::fs::read_to_string(server.data_dir.join("admin.token"))
        .context("the first start's admin token")?
        .trim()
        .to_owned();
    let requests = requests(dir, &token)?;
    let channel = Channel::from_shared(server.url.clone())?.connect().await?;
    let warm_up = if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let duration = plan.duration.max(Duration::from_millis(500));
    let mut cells: Vec<Vec<Cell>> = requests
        .iter()
        .map(|_| SHAPES.iter().map(|_| Cell::default()).collect())
        .collect();
    for round in 0..plan.rounds {
        for (r, (req, check)) in requests.iter().enumerate() {
            check.sample(&channel, &token).await?;
            // Alternate which shape goes first, so neither always runs on a warmer server.
            let order: Vec<usize> = if round % 2 == 0 {
                vec![0, 1]
            } else {
                vec![1, 0]
            };
            for s in order {
                let shape = SHAPES[s];
                let server_before = named_cpu_secs(&["rekey"]);
                let (url, load) = (server.url.clone(), req.clone());
                let run = tokio::task::spawn_blocking(move || {
                    h2load::run(&url, &load, shape, warm_up, duration)
                })
                .await??;
                let wall = (warm_up + duration).as_secs_f64();
                let cell = &mut cells[r][s];
                cell.req_per_s.push(run.req_per_s);
                cell.server_cores
                    .push((named_cpu_secs(&["rekey"]) - server_before) / wall);
                cell.generator_cores.push(run.generator_cpu_secs / wall);
                cell.failed += run.failed;
                if run.succeeded == 0 {
                    bail!(
                        "h2load got no successful reply for {} at {}",
                        req.name,
                        shape.label()
                    );
                }
            }
        }
    }
    Ok(report(&requests, &cells))
}

/// The one gRPC call that checks a request's grpc-status before it is loaded.
pub(crate) enum Check {
    Health,
    Encrypt(EncryptRequest),
}

impl Check {
    pub(crate) async fn sample(&self, channel: &Channel, token: &str) -> anyhow::Result<()> {
        let auth = format!("Bearer {token}").parse()?;
        match self {
            Check::Health => {
                HealthClient::new(channel.clone())
                    .check(HealthCheckRequest::default())
                    .await
                    .context("the health sample call")?;
            }
            Check::Encrypt(message) => {
                KeyServiceClient::new(channel.clone())
                    .encrypt(request(message.clone(), Some(&auth)))
                    .await
                    .context("the Encrypt sample call (grpc-status not OK)")?;
            }
        }
        Ok(())
    }
}

fn requests(dir: &Path, token: &str) -> anyhow::Result<Vec<(Request, Check)>> {
    let health = HealthCheckRequest::default();
    let mut out = vec![(
        Request::framed("health", HEALTH, &health, dir, None)?,
        Check::Health,
    )];
    for size in [64usize, 1024] {
        out.push(encrypt_request(dir, token, size)?);
    }
    Ok(out)
}

/// Encrypt of `size` bytes (0x5a each) with `KEY`, framed for h2load, and its check.
pub(crate) fn encrypt_request(
    dir: &Path,
    token: &str,
    size: usize,
) -> anyhow::Result<(Request, Check)> {
    let mut message = EncryptRequest::default();
    message.key_name = KEY.into();
    message.plaintext = vec![0x5a; size];
    let name = format!("Encrypt {}", crate::units::size_label(size));
    Ok((
        Request::framed(&name, ENCRYPT, &message, dir, Some(token.to_owned()))?,
        Check::Encrypt(message),
    ))
}

fn report(requests: &[(Request, Check)], cells: &[Vec<Cell>]) -> Section {
    let mut table = Table::new(
        "External load: h2load against rekey serve (medians)",
        &[
            "request",
            "shape",
            "req/s",
            "server cores",
            "h2load cores",
            "server µs/req",
            "64x1 / 4x32",
        ],
    );
    let mut json_cells = Vec::new();
    let mut checks = Vec::new();
    for ((req, _), row) in requests.iter().zip(cells) {
        let ratio = median_of_ratios(&row[1].req_per_s, &row[0].req_per_s);
        for (shape, cell) in SHAPES.iter().zip(row) {
            let rate = median(&cell.req_per_s);
            let server_cores = median(&cell.server_cores);
            let per_req_us = if rate > 0.0 {
                server_cores / rate * 1e6
            } else {
                0.0
            };
            table.row(vec![
                req.name.clone(),
                shape.label(),
                si(rate),
                format!("{server_cores:.2}"),
                format!("{:.2}", median(&cell.generator_cores)),
                format!("{per_req_us:.1}"),
                if shape.connections == 64 {
                    format!("{ratio:.2}x")
                } else {
                    String::new()
                },
            ]);
            json_cells.push(cell_json(&req.name, *shape, cell));
        }
        if req.name == "Encrypt 64 B" {
            checks.push(TargetCheck::new(
                "Encrypt 64 B at 64 x 1 vs 4 x 32 (issue #20)",
                ">= 0.80x",
                format!("{ratio:.2}x"),
                ratio >= SHAPE_RATIO_TARGET,
            ));
        }
    }
    table.print();
    Section {
        value: json!({ "generator": "h2load", "cells": json_cells }),
        checks,
    }
}

fn cell_json(name: &str, shape: Shape, cell: &Cell) -> Value {
    json!({
        "request": name,
        "connections": shape.connections,
        "streams_per_connection": shape.streams,
        "h2load_threads": shape.threads,
        "req_per_s": median(&cell.req_per_s),
        "rounds_req_per_s": cell.req_per_s,
        "server_cores": median(&cell.server_cores),
        "generator_cores": median(&cell.generator_cores),
        "failed": cell.failed,
    })
}
