//! `rekey encrypt-file | decrypt-file`: files of any size as stream ciphertexts (kind 0x04),
//! sealed and opened on this machine through the Rust client's stream adapters (one
//! GenerateDataKey or Decrypt call per file, constant memory). The output goes to a temporary
//! file beside OUT that is renamed only once complete, so a failed or tampered input never
//! leaves a partial file under OUT's name. On a terminal, stderr shows a progress bar.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rekey_client::{CachePolicy, StreamOptions};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

use super::client::Conn;
use super::exit::{CliError, Exit};
use super::output::emit_json;

/// One file's worth of cache: the data key is used once and dropped with the process.
const CACHE_AGE: Duration = Duration::from_secs(60);

/// What both commands are given: associated data, whether to replace OUT, IN and OUT.
pub(super) struct FileJob {
    aad: Vec<u8>,
    force: bool,
    input: PathBuf,
    output: PathBuf,
}

impl FileJob {
    pub(super) fn new(aad: Vec<u8>, force: bool, input: PathBuf, output: PathBuf) -> Self {
        Self {
            aad,
            force,
            input,
            output,
        }
    }
}

pub(super) async fn encrypt_file(
    conn: &Conn,
    key: &str,
    segment_size: u32,
    job: FileJob,
) -> Result<Exit, CliError> {
    let cipher = conn.rpc().envelope(key, CachePolicy::new(CACHE_AGE))?;
    let (reader, total) = open_input(&job.input).await?;
    let mut reader = Progress::new(reader, total, "encrypting", conn.json);
    let output = Output::create(&job.output, job.force).await?;
    let options = StreamOptions::default().segment_size(segment_size);
    let writer = output.writer().await?;
    let result = cipher
        .encrypt_stream(&mut reader, writer, &job.aad, options)
        .await;
    finish(conn, output, reader, result, key).await
}

pub(super) async fn decrypt_file(conn: &Conn, job: FileJob) -> Result<Exit, CliError> {
    let (mut reader, total) = open_input(&job.input).await?;
    // The key comes from the stream's header: read it, then give it back to the reader.
    let header = rekey_client::read_stream_header(&mut reader)
        .await
        .map_err(|e| match e {
            rekey_client::Error::InvalidCiphertext { message } => {
                CliError::usage(format!("{}: {message}", job.input.display()))
            }
            other => CliError::failed(format!("cannot read {}: {other}", job.input.display())),
        })?;
    let key = crate::crypto::StreamHeader::parse(&header)
        .map_err(|e| CliError::usage(format!("{}: {e}", job.input.display())))?
        .key_name()
        .to_owned();
    let cipher = conn.rpc().envelope(&key, CachePolicy::new(CACHE_AGE))?;
    let mut reader = Progress::new(
        std::io::Cursor::new(header).chain(reader),
        total,
        "decrypting",
        conn.json,
    );
    let output = Output::create(&job.output, job.force).await?;
    let mut writer = output.writer().await?;
    let result = cipher
        .decrypt_stream(&mut reader, &mut writer, &job.aad)
        .await;
    drop(writer);
    finish(conn, output, reader, result, &key).await
}

/// Renames or removes the temporary output, clears the progress bar, reports.
async fn finish<R>(
    conn: &Conn,
    output: Output,
    reader: Progress<R>,
    result: Result<u64, rekey_client::Error>,
    key: &str,
) -> Result<Exit, CliError> {
    reader.clear();
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(e) => {
            output.discard().await;
            return Err(e.into());
        }
    };
    let path = output.commit().await?;
    if conn.json {
        let summary = json!({
            "bytes": bytes,
            "key_name": key,
            "output": path.display().to_string(),
        });
        if path == Path::new("-") {
            // stdout carries the data: the summary goes to stderr.
            eprintln!("{summary}");
        } else {
            emit_json(&summary)?;
        }
    } else if reader.enabled {
        let secs = reader.started.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "{} {} in {secs:.1} s ({}/s) -> {}",
            reader.verb.replace("ing", "ed"),
            human(bytes),
            human((bytes as f64 / secs) as u64),
            path.display()
        );
    }
    Ok(Exit::Success)
}

type Input = Box<dyn AsyncRead + Unpin + Send>;

/// The input file (or stdin for `-`) and its length when known.
async fn open_input(path: &Path) -> Result<(Input, Option<u64>), CliError> {
    if path == Path::new("-") {
        return Ok((Box::new(tokio::io::stdin()), None));
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?;
    let len = file.metadata().await.ok().map(|m| m.len());
    Ok((
        Box::new(tokio::io::BufReader::with_capacity(1 << 20, file)),
        len,
    ))
}

/// Where the result goes: stdout, or a temporary file beside OUT renamed on success.
enum Output {
    Stdout,
    File { temp: PathBuf, path: PathBuf },
}

impl Output {
    async fn create(path: &Path, force: bool) -> Result<Output, CliError> {
        if path == Path::new("-") {
            return Ok(Output::Stdout);
        }
        if !force && tokio::fs::try_exists(path).await.unwrap_or(false) {
            return Err(CliError::usage(format!(
                "{} exists; pass --force to replace it",
                path.display()
            )));
        }
        let name = path
            .file_name()
            .ok_or_else(|| CliError::usage(format!("{} is not a file name", path.display())))?;
        let temp = path.with_file_name(format!(
            ".{}.rekey-partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        Ok(Output::File {
            temp,
            path: path.to_owned(),
        })
    }

    /// A writer of the output (the temporary file, created here).
    async fn writer(&self) -> Result<Box<dyn AsyncWrite + Unpin + Send>, CliError> {
        match self {
            Output::Stdout => Ok(Box::new(tokio::io::stdout())),
            Output::File { temp, .. } => {
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(temp)
                    .await
                    .map_err(|e| {
                        CliError::failed(format!("cannot create {}: {e}", temp.display()))
                    })?;
                Ok(Box::new(tokio::io::BufWriter::with_capacity(1 << 20, file)))
            }
        }
    }

    async fn commit(self) -> Result<PathBuf, CliError> {
        match self {
            Output::Stdout => Ok(PathBuf::from("-")),
            Output::File { temp, path } => {
                // The writer flushed and shut down; make the bytes durable before the name.
                if let Ok(file) = tokio::fs::File::open(&temp).await {
                    let _ = file.sync_all().await;
                }
                tokio::fs::rename(&temp, &path).await.map_err(|e| {
                    CliError::failed(format!("cannot rename to {}: {e}", path.display()))
                })?;
                Ok(path)
            }
        }
    }

    async fn discard(self) {
        if let Output::File { temp, .. } = self {
            let _ = tokio::fs::remove_file(&temp).await;
        }
    }
}

/// Counts what is read through it and, on a terminal, redraws a progress line on stderr at
/// most five times a second.
struct Progress<R> {
    inner: R,
    done: u64,
    total: Option<u64>,
    verb: &'static str,
    enabled: bool,
    started: Instant,
    drawn: Instant,
}

impl<R> Progress<R> {
    fn new(inner: R, total: Option<u64>, verb: &'static str, json: bool) -> Self {
        let now = Instant::now();
        Progress {
            inner,
            done: 0,
            total,
            verb,
            enabled: !json && std::io::stderr().is_terminal(),
            started: now,
            drawn: now,
        }
    }

    fn draw(&mut self) {
        let now = Instant::now();
        if !self.enabled || now.duration_since(self.drawn) < Duration::from_millis(200) {
            return;
        }
        self.drawn = now;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = human((self.done as f64 / secs) as u64);
        let line = match self.total {
            Some(total) if total > 0 => {
                let share = (self.done as f64 / total as f64).min(1.0);
                let filled = (share * 30.0) as usize;
                format!(
                    "{} [{}{}] {:>3}% {} / {} {rate}/s",
                    self.verb,
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    (share * 100.0) as u32,
                    human(self.done),
                    human(total)
                )
            }
            _ => format!("{} {} {rate}/s", self.verb, human(self.done)),
        };
        eprint!("\r{line}\x1b[K");
    }

    fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[K");
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Progress<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.done += read;
        if read > 0 {
            self.draw();
        }
        result
    }
}

/// Bytes as B, KiB, MiB or GiB with one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(super::human(17), "17 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(3 << 30), "3.0 GiB");
    }
}
