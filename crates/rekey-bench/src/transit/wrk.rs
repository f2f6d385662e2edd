//! Debian's `wrk` as the HTTP/1.1 load generator: a Lua script written by this harness sets
//! the POST body and headers and counts, in `response`, every answer whose status is not
//! 2xx; `done` prints those counts and wrk's socket errors on one line this module parses,
//! beside wrk's own `Requests/sec:` line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::external::h2load::children_cpu_secs;
use crate::report::Unavailable;

/// The prefix of the line the script's `done` prints.
const COUNTS: &str = "rekey-bench-counts:";
/// The prefix of the line with the first answer that was not 2xx, if any.
const FIRST_BAD: &str = "rekey-bench-first-non-2xx:";

/// One wrk load: connections (one request in flight on each: HTTP/1.1, no pipelining) and
/// generator threads.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub connections: usize,
    pub threads: usize,
}

impl Shape {
    pub fn label(&self) -> String {
        format!("{} x 1", self.connections)
    }
}

/// What one wrk run measured. `run` fails rather than return a run with an error in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub req_per_s: f64,
    /// Answers the script saw, every one 2xx.
    pub responses: u64,
    /// CPU seconds wrk used.
    pub generator_cpu_secs: f64,
}

/// Whether wrk is installed.
pub fn check_installed() -> anyhow::Result<()> {
    // `wrk --version` prints its banner and usage and exits 1; it only has to start.
    let banner = Command::new("wrk")
        .arg("--version")
        .output()
        .map(|out| [out.stdout, out.stderr].concat())
        .unwrap_or_default();
    if String::from_utf8_lossy(&banner).contains("wrk") {
        return Ok(());
    }
    Err(Unavailable("wrk not found: install Debian's wrk (apt-get install wrk)".into()).into())
}

/// Writes the Lua script that POSTs `body` (JSON) with the token in `X-Vault-Token` and
/// counts non-2xx answers, as `dir/<name>.lua`.
pub fn write_script(dir: &Path, name: &str, body: &str, token: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{}.lua", name.replace([' ', ':', '/'], "-")));
    std::fs::write(&path, script(body, token))?;
    Ok(path)
}

fn script(body: &str, token: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "-- rekey-bench: one Transit request, sent again and again"
    );
    let _ = writeln!(s, "wrk.method = \"POST\"");
    let _ = writeln!(s, "wrk.body = {}", lua_string(body));
    let _ = writeln!(s, "wrk.headers[\"Content-Type\"] = \"application/json\"");
    let _ = writeln!(s, "wrk.headers[\"X-Vault-Token\"] = {}", lua_string(token));
    s.push_str(
        r#"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  non_2xx = 0
  first_bad = ""
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(string.gsub(body or "", "%s+", " "), 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local seen, bad, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    seen = seen + thread:get("responses")
    bad = bad + thread:get("non_2xx")
    local f = thread:get("first_bad")
    if first == "" and f ~= "" then first = f end
  end
  local e = summary.errors
  io.write(string.format(
    "COUNTS responses=%d non_2xx=%d requests=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    seen, bad, summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
  if first ~= "" then
    io.write("FIRST_BAD " .. first .. "\n")
  end
end
"#
        .replace("COUNTS", COUNTS)
        .replace("FIRST_BAD", FIRST_BAD)
        .as_str(),
    );
    s
}

/// `text` as a Lua long-bracket-free string literal.
fn lua_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The seconds wrk runs for `duration`: rounded, at least one.
pub fn whole_secs(duration: Duration) -> f64 {
    duration.as_secs_f64().round().max(1.0)
}

/// Runs wrk with `script` and `shape` against `url` for `duration` (whole seconds: wrk takes
/// nothing finer). Fails when wrk saw a socket error or any answer that was not 2xx, or no
/// answer at all.
pub fn run(url: &str, script: &Path, shape: Shape, duration: Duration) -> anyhow::Result<Run> {
    let secs = whole_secs(duration) as u64;
    let mut command = Command::new("wrk");
    command
        .arg(format!("--threads={}", shape.threads))
        .arg(format!("--connections={}", shape.connections))
        .arg(format!("--duration={secs}s"))
        .arg("--timeout=10s")
        .arg(format!("--script={}", script.display()))
        .arg(url);
    let cpu_before = children_cpu_secs();
    let out = command.output().context("running wrk")?;
    let generator_cpu_secs = children_cpu_secs() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&text, generator_cpu_secs).with_context(|| format!("wrk against {url}"))
}

/// wrk's `Requests/sec:   12345.67` and the script's counts line; an error for any socket
/// error, any answer that was not 2xx, or none at all.
fn parse(text: &str, generator_cpu_secs: f64) -> anyhow::Result<Run> {
    let counts_line = text
        .lines()
        .find_map(|l| l.strip_prefix(COUNTS))
        .with_context(|| {
            format!("no {COUNTS:?} line in wrk's output (the script's done):\n{text}")
        })?;
    let count = |name: &str| -> anyhow::Result<u64> {
        counts_line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name}= in {counts_line:?}"))
    };
    let responses = count("responses")?;
    let non_2xx = count("non_2xx")?;
    let socket_errors: Vec<String> = ["connect", "read", "write", "timeout"]
        .iter()
        .map(|name| Ok((*name, count(name)?)))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    if non_2xx > 0 || count("status")? > 0 {
        let first = text
            .lines()
            .find_map(|l| l.strip_prefix(FIRST_BAD))
            .unwrap_or("")
            .trim();
        bail!("{non_2xx} of {responses} answers were not 2xx (the first: {first}):\n{text}");
    }
    if !socket_errors.is_empty() {
        bail!(
            "wrk saw socket errors ({}):\n{text}",
            socket_errors.join(", ")
        );
    }
    if responses == 0 {
        bail!("wrk got no answer:\n{text}");
    }
    if responses != count("requests")? {
        bail!("the script saw {responses} answers, wrk counted another number:\n{text}");
    }
    let req_per_s = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("no 'Requests/sec:' in wrk's output:\n{text}"))?;
    Ok(Run {
        req_per_s,
        responses,
        generator_cpu_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 3s test @ http://127.0.0.1:1/v1/transit/encrypt/K\n  \
        2 threads and 64 connections\n\
        Requests/sec:  23456.78\n\
        Transfer/sec:      9.01MB\n";

    fn output(counts: &str) -> String {
        format!("{OUTPUT}{COUNTS} {counts}\n")
    }

    #[test]
    fn a_clean_run_gives_the_rate_and_the_count() {
        let text = output(
            "responses=70000 non_2xx=0 requests=70000 connect=0 read=0 write=0 status=0 timeout=0",
        );
        let run = parse(&text, 1.25).unwrap();
        assert_eq!(
            run,
            Run {
                req_per_s: 23456.78,
                responses: 70000,
                generator_cpu_secs: 1.25
            }
        );
    }

    #[test]
    fn a_run_with_any_error_fails() {
        let non_2xx =
            format!(
            "{}{FIRST_BAD} 403 {{\"errors\":[\"permission denied\"]}}\n",
            output("responses=10 non_2xx=1 requests=10 connect=0 read=0 write=0 status=1 timeout=0")
        );
        let e = parse(&non_2xx, 0.0).unwrap_err().to_string();
        assert!(
            e.contains("1 of 10 answers were not 2xx") && e.contains("403"),
            "{e}"
        );
        // A 3xx is not in wrk's own status count (it counts >= 400), only in the script's.
        let redirect = output(
            "responses=10 non_2xx=1 requests=10 connect=0 read=0 write=0 status=0 timeout=0",
        );
        assert!(parse(&redirect, 0.0).is_err());
        let socket = output(
            "responses=10 non_2xx=0 requests=10 connect=0 read=2 write=0 status=0 timeout=1",
        );
        let e = parse(&socket, 0.0).unwrap_err().to_string();
        assert!(e.contains("2 read, 1 timeout"), "{e}");
        let none =
            output("responses=0 non_2xx=0 requests=0 connect=0 read=0 write=0 status=0 timeout=0");
        assert!(parse(&none, 0.0).is_err());
        assert!(parse(OUTPUT, 0.0).is_err(), "no counts line");
    }

    #[test]
    fn the_script_carries_the_body_and_the_token() {
        let s = script(r#"{"plaintext":"WlpaWg=="}"#, "rk_admin_\"x");
        assert!(
            s.contains(r#"wrk.body = "{\"plaintext\":\"WlpaWg==\"}""#),
            "{s}"
        );
        assert!(
            s.contains(r#"wrk.headers["X-Vault-Token"] = "rk_admin_\"x""#),
            "{s}"
        );
        assert!(s.contains(&format!("\"{COUNTS} responses=%d")), "{s}");
        assert!(
            s.contains("function response(status, headers, body)"),
            "{s}"
        );
    }
}
