//! The data subcommands of `rekey` (encrypt, decrypt, sign, verify, datakey), run as the real
//! binary with stdin and stdout against an in-process server, and their exit codes.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::on_every_backend;
use crate::support::{Backend, TestEnv, TestServer};

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// `rekey args…` with `stdin`, as the admin of `s`.
async fn rekey_io(env: &TestEnv, s: &TestServer, args: &[&str], stdin: &[u8]) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(args)
        .env("REKEY_ADDR", format!("http://{}", s.server.grpc_addr()))
        .env("REKEY_TOKEN", env.admin_token())
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
    Out {
        code: output.status.code().expect("exited"),
        stdout: output.stdout,
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

async fn data_commands_round_trip_through_stdin_and_stdout(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let key = "TOKEN_ENCRYPTION";

    // Raw bytes in and out.
    let ct = rekey_io(
        &env,
        &s,
        &["encrypt", "--key", key, "--aad", "row 1"],
        b"\x00secret\xff",
    )
    .await;
    assert_eq!(ct.code, 0, "{}", ct.stderr);
    let pt = rekey_io(&env, &s, &["decrypt", "--aad", "row 1"], &ct.stdout).await;
    assert_eq!(
        (pt.code, pt.stdout.as_slice()),
        (0, &b"\x00secret\xff"[..]),
        "{}",
        pt.stderr
    );
    // Wrong associated data: refused (exit 2), nothing on stdout.
    let bad = rekey_io(&env, &s, &["decrypt", "--aad", "row 2"], &ct.stdout).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("authentication"), "{}", bad.stderr);

    // Base64 in and out.
    let ct = rekey_io(
        &env,
        &s,
        &["encrypt", "--key", key, "--base64"],
        b"aGVsbG8=\n",
    )
    .await;
    assert_eq!(ct.code, 0, "{}", ct.stderr);
    let pt = rekey_io(&env, &s, &["decrypt", "--base64"], &ct.stdout).await;
    assert_eq!(String::from_utf8(pt.stdout).unwrap(), "aGVsbG8=\n");

    // Sign and verify; a different message does not verify (exit 1).
    let sig = rekey_io(&env, &s, &["sign", "--key", "API_SIGNATURE"], b"message").await;
    assert_eq!(sig.code, 0, "{}", sig.stderr);
    let sig_file = env.dir().join("sig");
    std::fs::write(&sig_file, &sig.stdout).unwrap();
    let path = sig_file.to_str().unwrap();
    let ok = rekey_io(&env, &s, &["verify", "--signature-file", path], b"message").await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let no = rekey_io(&env, &s, &["verify", "--signature-file", path], b"massage").await;
    assert_eq!(no.code, 1, "{}", no.stderr);

    // A data key as JSON; its wrapped key decrypts to its plaintext key.
    let dk = rekey_io(&env, &s, &["datakey", "--key", key], b"").await;
    assert_eq!(dk.code, 0, "{}", dk.stderr);
    let json: serde_json::Value = serde_json::from_slice(&dk.stdout).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let wrapped = b64.decode(json["wrapped_key"].as_str().unwrap()).unwrap();
    let unwrapped = rekey_io(&env, &s, &["decrypt"], &wrapped).await;
    assert_eq!(
        b64.encode(&unwrapped.stdout),
        json["plaintext_key"].as_str().unwrap()
    );

    // Documented exit codes: unknown key 4, no token 5.
    let missing = rekey_io(&env, &s, &["encrypt", "--key", "NOPE"], b"x").await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    s.stop().await;
    env.finish().await;
}

on_every_backend!(data_commands_round_trip_through_stdin_and_stdout);
