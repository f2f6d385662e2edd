//! Debian's `h2load` (nghttp2-client) as the external load generator: gRPC requests framed
//! from the generated messages into a body file it POSTs, its figures parsed from its output,
//! and the CPU it used (it is a waited-for child of this process).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use prost::Message;

use crate::report::Unavailable;

/// One load shape: connections, requests in flight on each, generator threads.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub connections: usize,
    pub streams: usize,
    pub threads: usize,
}

impl Shape {
    pub fn label(&self) -> String {
        format!("{} x {}", self.connections, self.streams)
    }
}

/// A request h2load sends again and again: the rpc's path and its framed body on disk.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub path: &'static str,
    pub body: PathBuf,
    /// Sent as `authorization` (the health handler needs none).
    pub bearer: Option<String>,
}

impl Request {
    /// `message` in gRPC's length-prefixed framing (uncompressed), written to `dir/<file>`.
    pub fn framed(
        name: &str,
        path: &'static str,
        message: &impl Message,
        dir: &Path,
        bearer: Option<String>,
    ) -> anyhow::Result<Request> {
        let encoded = message.encode_to_vec();
        let mut frame = Vec::with_capacity(5 + encoded.len());
        frame.push(0);
        frame.extend_from_slice(&u32::try_from(encoded.len())?.to_be_bytes());
        frame.extend_from_slice(&encoded);
        let body = dir.join(format!("{}.grpc", name.replace([' ', ':'], "-")));
        std::fs::write(&body, frame)?;
        Ok(Request {
            name: name.to_owned(),
            path,
            body,
            bearer,
        })
    }
}

/// What one h2load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub req_per_s: f64,
    pub succeeded: u64,
    pub failed: u64,
    /// CPU seconds h2load used.
    pub generator_cpu_secs: f64,
}

/// Whether h2load is installed.
pub fn check_installed() -> anyhow::Result<()> {
    match Command::new("h2load").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(Unavailable(
            "h2load not found: install Debian's nghttp2-client (apt-get install nghttp2-client)"
                .into(),
        )
        .into()),
    }
}

/// Runs h2load with `shape` against `url` + `request.path` for `duration` after `warm_up`.
pub fn run(
    url: &str,
    request: &Request,
    shape: Shape,
    warm_up: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let mut command = Command::new("h2load");
    command
        .arg(format!("--clients={}", shape.connections))
        .arg(format!("--max-concurrent-streams={}", shape.streams))
        .arg(format!("--threads={}", shape.threads))
        .arg(format!("--duration={}ms", duration.as_millis().max(1)))
        .arg(format!("--warm-up-time={}ms", warm_up.as_millis().max(1)))
        .arg(format!("--data={}", request.body.display()))
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
    if let Some(bearer) = &request.bearer {
        command
            .arg("-H")
            .arg(format!("authorization: Bearer {bearer}"));
    }
    command.arg(format!("{url}{}", request.path));
    let cpu_before = children_cpu_secs();
    let out = command.output().context("running h2load")?;
    let generator_cpu_secs = children_cpu_secs() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "h2load failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text, generator_cpu_secs)
}

/// The figures of h2load's summary:
/// `finished in 5.00s, 54123.40 req/s, 3.21MB/s` and
/// `requests: 270617 total, 270617 started, 270617 done, 270617 succeeded, 0 failed, ...`.
fn parse(text: &str, generator_cpu_secs: f64) -> anyhow::Result<Run> {
    let finished = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .with_context(|| format!("no 'finished in' line in h2load's output:\n{text}"))?;
    let req_per_s = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("no req/s in {finished:?}"))?;
    let requests = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .with_context(|| format!("no 'requests:' line in h2load's output:\n{text}"))?;
    let count = |what: &str| {
        requests
            .split(", ")
            .find_map(|part| part.trim_start_matches("requests: ").strip_suffix(what))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .with_context(|| format!("no '{what}' in {requests:?}"))
    };
    Ok(Run {
        req_per_s,
        succeeded: count(" succeeded")?,
        failed: count(" failed")? + count(" errored")?,
        generator_cpu_secs,
    })
}

/// CPU seconds of this process's waited-for children so far (/proc/self/stat cutime and
/// cstime): h2load's own (or wrk's), once it has exited and been waited for.
pub fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (get(13) + get(14)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_lines_give_the_rate_and_the_counts() {
        let text = "starting benchmark...\n\
            finished in 5.00s, 54123.40 req/s, 3.21MB/s\n\
            requests: 270617 total, 270617 started, 270600 done, 270590 succeeded, 10 failed, 3 errored, 0 timeout\n";
        let run = parse(text, 1.5).unwrap();
        assert_eq!(run.req_per_s, 54123.40);
        assert_eq!(run.succeeded, 270590);
        assert_eq!(run.failed, 13);
        assert_eq!(run.generator_cpu_secs, 1.5);
        assert!(parse("nothing", 0.0).is_err());
    }
}
