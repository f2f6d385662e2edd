//! `rekey encrypt | decrypt | sign | verify | datakey`, run as the real binary against an
//! in-process server: stdin to stdout, base64 or raw, and the exit codes scripts rely on.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;

use crate::cli::{addr, admin_token};
use crate::support::{Backend, TestEnv, TestServer};

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
}

/// `rekey args…` as the admin, with `stdin` on its standard input.
async fn rekey(env: &TestEnv, s: &TestServer, args: &[&str], stdin: &[u8]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(args)
        .env("REKEY_ADDR", addr(s))
        .env("REKEY_TOKEN", admin_token(env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_vec();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the rekey binary runs");
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: output.stdout,
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[track_caller]
fn assert_exit(run: &Run, code: i32) {
    assert_eq!(run.code, code, "{run:?}");
}

async fn encrypt_and_decrypt_through_stdin_and_stdout(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let plaintext = b"card 4111 1111 1111 1111\n\x00\xff";

    // Base64 line by default, with associated data.
    let enc = rekey(
        &env,
        &s,
        &["encrypt", "--key", "TOKEN_ENCRYPTION", "--aad", "row 7"],
        plaintext,
    )
    .await;
    assert_exit(&enc, 0);
    let line = enc.text();
    assert!(line.ends_with('\n'), "{enc:?}");
    assert!(B64.decode(line.trim()).unwrap().starts_with(b"RK"));
    let dec = rekey(&env, &s, &["decrypt", "--aad", "row 7"], line.as_bytes()).await;
    assert_exit(&dec, 0);
    assert_eq!(
        dec.stdout, plaintext,
        "the plaintext comes back byte for byte"
    );

    // The wrong associated data: refused (exit 2), nothing on stdout.
    let wrong = rekey(&env, &s, &["decrypt", "--aad", "row 8"], line.as_bytes()).await;
    assert_exit(&wrong, 2);
    assert!(wrong.stdout.is_empty(), "{wrong:?}");
    assert!(wrong.stderr.contains("failed authentication"), "{wrong:?}");

    // Raw bytes both ways, binary associated data.
    let aad = B64.encode([0u8, 1, 2]);
    let raw = rekey(
        &env,
        &s,
        &[
            "encrypt",
            "--key",
            "TOKEN_ENCRYPTION",
            "--aad-base64",
            &aad,
            "--raw",
        ],
        b"raw",
    )
    .await;
    assert_exit(&raw, 0);
    assert!(raw.stdout.starts_with(b"RK"));
    let back = rekey(
        &env,
        &s,
        &["decrypt", "--raw", "--aad-base64", &aad],
        &raw.stdout,
    )
    .await;
    assert_exit(&back, 0);
    assert_eq!(back.stdout, b"raw");

    // --json names the key and version.
    let json = rekey(
        &env,
        &s,
        &["--json", "decrypt", "--aad", "row 7"],
        line.as_bytes(),
    )
    .await;
    assert_exit(&json, 0);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["key_name"], "TOKEN_ENCRYPTION");
    assert_eq!(json["key_version"], 1);
    assert_eq!(
        B64.decode(json["plaintext"].as_str().unwrap()).unwrap(),
        plaintext
    );

    // Bad input: not base64 (2), unknown key (4), both --aad forms (2).
    let run = rekey(&env, &s, &["decrypt"], b"%%% not base64").await;
    assert_exit(&run, 2);
    assert!(run.stderr.contains("not base64"), "{run:?}");
    let run = rekey(&env, &s, &["encrypt", "--key", "NO_SUCH_KEY"], b"x").await;
    assert_exit(&run, 4);
    let run = rekey(
        &env,
        &s,
        &[
            "encrypt",
            "--key",
            "TOKEN_ENCRYPTION",
            "--aad",
            "a",
            "--aad-base64",
            "YQ==",
        ],
        b"x",
    )
    .await;
    assert_exit(&run, 2);
    s.stop().await;
    env.finish().await;
}

async fn sign_verify_and_datakey(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let message = b"{\"event\":\"paid\"}";
    let sig = rekey(&env, &s, &["sign", "--key", "API_SIGNATURE"], message).await;
    assert_exit(&sig, 0);
    let signature = sig.text().trim().to_owned();

    let ok = rekey(&env, &s, &["verify", "--signature", &signature], message).await;
    assert_exit(&ok, 0);
    assert!(
        ok.text().starts_with("valid (key API_SIGNATURE version 1)"),
        "{ok:?}"
    );
    let bad = rekey(
        &env,
        &s,
        &["verify", "--signature", &signature],
        b"tampered",
    )
    .await;
    assert_exit(&bad, 1);
    assert!(bad.text().starts_with("invalid"), "{bad:?}");

    // Signing with an encryption key is the wrong purpose: failed (1), with the reason.
    let wrong = rekey(&env, &s, &["sign", "--key", "TOKEN_ENCRYPTION"], message).await;
    assert_exit(&wrong, 1);
    assert!(wrong.stderr.contains("cannot be used to sign"), "{wrong:?}");

    // A data key: JSON with both forms; the wrapped one decrypts to the plaintext one.
    let dk = rekey(
        &env,
        &s,
        &["datakey", "--key", "TOKEN_ENCRYPTION", "--aad", "dk"],
        b"",
    )
    .await;
    assert_exit(&dk, 0);
    let dk: Value = serde_json::from_slice(&dk.stdout).unwrap();
    let plaintext_key = B64.decode(dk["plaintext_key"].as_str().unwrap()).unwrap();
    assert_eq!(plaintext_key.len(), 32);
    let wrapped = dk["wrapped_key"].as_str().unwrap();
    let unwrapped = rekey(&env, &s, &["decrypt", "--aad", "dk"], wrapped.as_bytes()).await;
    assert_exit(&unwrapped, 0);
    assert_eq!(unwrapped.stdout, plaintext_key);

    // --wrapped-only prints one base64 line and no plaintext key.
    let only = rekey(
        &env,
        &s,
        &["datakey", "--key", "TOKEN_ENCRYPTION", "--wrapped-only"],
        b"",
    )
    .await;
    assert_exit(&only, 0);
    assert_eq!(only.text().lines().count(), 1);
    assert!(B64.decode(only.text().trim()).unwrap().starts_with(b"RK"));
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    encrypt_and_decrypt_through_stdin_and_stdout,
    sign_verify_and_datakey,
    encrypt_file_and_decrypt_file,
);

/// `rekey encrypt-file` then `decrypt-file`: a round trip through files and stdin/stdout, a
/// tampered file refused with no output left behind, OUT protected unless --force.
async fn encrypt_file_and_decrypt_file(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let dir = env.dir();
    let plain = dir.join("report.pdf");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&plain, &content).unwrap();
    let sealed = dir.join("report.pdf.rekey");
    let (p, c) = (plain.to_str().unwrap(), sealed.to_str().unwrap());
    let run = rekey(
        &env,
        &s,
        &[
            "encrypt-file",
            "--key",
            "FILE_ENCRYPTION",
            "--aad",
            "r",
            "--segment-size",
            "4096",
            p,
            c,
        ],
        b"",
    )
    .await;
    assert_exit(&run, 0);
    let value = std::fs::read(&sealed).unwrap();
    assert_eq!(value.len(), 98 + 2 * 15 + 300_000 + 16 * 74);
    assert_eq!(&value[..4], b"RK\x01\x04");
    // Not overwritten without --force.
    let run = rekey(
        &env,
        &s,
        &["encrypt-file", "--key", "FILE_ENCRYPTION", p, c],
        b"",
    )
    .await;
    assert_exit(&run, 2);
    assert!(run.stderr.contains("--force"), "{run:?}");
    let opened = dir.join("opened.pdf");
    let o = opened.to_str().unwrap();
    let run = rekey(&env, &s, &["decrypt-file", "--aad", "r", c, o], b"").await;
    assert_exit(&run, 0);
    assert!(std::fs::read(&opened).unwrap() == content);
    // stdin to stdout, with --json on the encrypting side.
    let run = rekey(
        &env,
        &s,
        &[
            "--json",
            "encrypt-file",
            "--key",
            "FILE_ENCRYPTION",
            "-",
            "-",
        ],
        b"piped",
    )
    .await;
    assert_exit(&run, 0);
    let run = rekey(&env, &s, &["decrypt-file", "-", "-"], &run.stdout).await;
    assert_exit(&run, 0);
    assert_eq!(run.stdout, b"piped");
    // Truncated (last segment dropped): exit 2, and no OUT, no temporary file left.
    let cut = dir.join("cut.rekey");
    let last = 300_000 % 4096 + 16;
    std::fs::write(&cut, &value[..value.len() - last]).unwrap();
    let never = dir.join("never.pdf");
    let run = rekey(
        &env,
        &s,
        &[
            "decrypt-file",
            "--aad",
            "r",
            cut.to_str().unwrap(),
            never.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_exit(&run, 2);
    assert!(
        run.stderr
            .contains("stream ciphertext failed authentication"),
        "{run:?}"
    );
    assert!(!never.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("rekey-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Wrong associated data, a file that is not a stream, a bad segment size.
    let run = rekey(
        &env,
        &s,
        &["decrypt-file", "--aad", "x", c, never.to_str().unwrap()],
        b"",
    )
    .await;
    assert_exit(&run, 2);
    let run = rekey(&env, &s, &["decrypt-file", p, never.to_str().unwrap()], b"").await;
    assert_exit(&run, 2);
    assert!(run.stderr.contains("RK"), "{run:?}");
    let run = rekey(
        &env,
        &s,
        &[
            "encrypt-file",
            "--key",
            "FILE_ENCRYPTION",
            "--segment-size",
            "100",
            p,
            never.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_exit(&run, 2);
    assert!(run.stderr.contains("segment size"), "{run:?}");
    s.stop().await;
    env.finish().await;
}

/// The peak resident memory (VmHWM, KiB) of a process, read while it runs: the kernel's
/// high-water mark, so sampling late still sees the peak.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `rekey` with a file argument list, its peak RSS sampled until it exits.
async fn rekey_peak(env: &TestEnv, s: &TestServer, args: &[&str]) -> (i32, u64) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(args)
        .env("REKEY_ADDR", addr(s))
        .env("REKEY_TOKEN", admin_token(env))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the rekey binary runs");
        let mut peak = 0;
        loop {
            if let Some(kib) = peak_rss_kib(child.id()) {
                peak = peak.max(kib);
            }
            if let Some(status) = child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), peak);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    })
    .await
    .unwrap()
}

/// A 200 MiB file through encrypt-file and decrypt-file: each process stays under 64 MiB of
/// resident memory (one segment and the I/O buffers, whatever the file's size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_file_round_trips_in_bounded_memory() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let dir = env.dir();
    let plain = dir.join("big.bin");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
        let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        for _ in 0..200 {
            file.write_all(&block).unwrap();
        }
    }
    let (sealed, opened) = (dir.join("big.rekey"), dir.join("big.out"));
    let (p, c, o) = (
        plain.to_str().unwrap(),
        sealed.to_str().unwrap(),
        opened.to_str().unwrap(),
    );
    let (code, encrypt_peak) = rekey_peak(
        &env,
        &s,
        &["encrypt-file", "--key", "FILE_ENCRYPTION", p, c],
    )
    .await;
    assert_eq!(code, 0);
    let (code, decrypt_peak) = rekey_peak(&env, &s, &["decrypt-file", c, o]).await;
    assert_eq!(code, 0);
    assert!(encrypt_peak > 0 && decrypt_peak > 0, "VmHWM was read");
    assert!(
        encrypt_peak < 64 << 10,
        "encrypt-file peak RSS {encrypt_peak} KiB"
    );
    assert!(
        decrypt_peak < 64 << 10,
        "decrypt-file peak RSS {decrypt_peak} KiB"
    );
    let (a, b) = (
        std::fs::metadata(&plain).unwrap(),
        std::fs::metadata(&opened).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    assert!(std::fs::read(&plain).unwrap() == std::fs::read(&opened).unwrap());
    for path in [&plain, &sealed, &opened] {
        std::fs::remove_file(path).unwrap();
    }
    s.stop().await;
    env.finish().await;
}
