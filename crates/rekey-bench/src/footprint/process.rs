//! The `rekey serve` child process: found beside this executable, spawned on a data folder
//! with a clean environment, timed from spawn to health SERVING, and stopped gracefully. Its
//! HTTP port (bound on 127.0.0.1:0) is read from the file `rekey serve --ready-file` writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::health::serving;
use crate::report::Unavailable;

/// `rekey` in the folder of this executable.
pub fn rekey_binary() -> anyhow::Result<PathBuf> {
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
pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    log: PathBuf,
    /// `--ready-file`: the bound gRPC and HTTP addresses, written once serving.
    ready_file: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Spawns `rekey serve` on `data_dir` with a clean environment (the embedded default)
    /// and returns it with the time from spawning to health SERVING.
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        log: &Path,
    ) -> anyhow::Result<(Server, Duration)> {
        let port = free_port()?;
        let ready_file = log.with_extension("ready.json");
        // A file of an earlier start would give its (stale) ports.
        let _ = std::fs::remove_file(&ready_file);
        let mut command = serve_command(binary, port, data_dir, log, &ready_file)?;
        let spawned = Instant::now();
        let child = command.spawn().context("spawn rekey serve")?;
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_owned(),
            log: log.to_owned(),
            ready_file,
        };
        let serving_at = server.wait_until_serving(spawned).await?;
        Ok((server, serving_at - spawned))
    }

    /// Probes until the server answers SERVING; when it first did. A new probe every 2 ms,
    /// each on its own connection, without waiting for the ones before: a probe that
    /// connected before the server accepted can stall for a TCP delayed-ACK interval (see
    /// BENCHMARKS.md), and must not hide the later ones.
    async fn wait_until_serving(&mut self, spawned: Instant) -> anyhow::Result<Instant> {
        let (answered, mut first_answer) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        loop {
            let url = self.url.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                if serving(&url).await {
                    let _ = answered.send(Instant::now());
                }
            });
            if let Ok(Some(at)) =
                tokio::time::timeout(Duration::from_millis(2), first_answer.recv()).await
            {
                return Ok(at);
            }
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                bail!("rekey serve exited with {status} before serving; its log:\n{log}");
            }
            if spawned.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                bail!(
                    "rekey serve was not SERVING within 30 s; log in {}",
                    self.log.display()
                );
            }
        }
    }

    /// `http://127.0.0.1:<port>` of the HTTP API, from the ready file, which `rekey serve`
    /// writes (whole, by a rename) just after it starts serving: waits up to 10 s for it.
    pub async fn http_url(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.ready_file) {
                let ready: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("the ready file {}", self.ready_file.display()))?;
                let Some(addr) = ready["http"].as_str() else {
                    bail!("rekey serve serves no HTTP (ready file: {})", text.trim());
                };
                return Ok(format!("http://{addr}"));
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "rekey serve exited with {status}; log in {}",
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "rekey serve wrote no ready file ({}) within 10 s",
                    self.ready_file.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGTERM (graceful drain), then SIGKILL if it does not stop.
    pub async fn stop(mut self) -> anyhow::Result<()> {
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

/// `rekey serve` on `port` and `data_dir`, logging to `log` and writing its bound addresses
/// to `ready_file`, without any of the settings this process's environment may carry, so that
/// it measures the embedded default.
fn serve_command(
    binary: &Path,
    port: u16,
    data_dir: &Path,
    log: &Path,
    ready_file: &Path,
) -> anyhow::Result<Command> {
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
        .arg("--ready-file")
        .arg(ready_file)
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
    Ok(command)
}
