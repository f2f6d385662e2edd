//! `rekey encrypt | decrypt | sign | verify | datakey` (and `encrypt-file | decrypt-file`, in
//! `files.rs`): the data plane for scripts, in the
//! spirit of `vault write transit/encrypt`. The message or plaintext is read from stdin as raw
//! bytes; ciphertexts and signatures are written (and read) as base64 lines, or as raw bytes
//! with `--raw`; plaintext is written as raw bytes. Exit codes as for every client command
//! (`rekey --help`); `verify` exits 1 when the signature does not match.

use std::io::{Read as _, Write as _};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use zeroize::Zeroizing;

use super::args::{AadArgs, DataCommand};
use super::client::Conn;
use super::exit::{CliError, Exit};
use super::files::{self, FileJob};
use super::output::emit_json;
use crate::proto::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, SignRequest, VerifyRequest,
};

pub(super) async fn run(conn: &Conn, command: DataCommand) -> Result<Exit, CliError> {
    match command {
        DataCommand::Encrypt { key, aad, raw } => {
            let plaintext = read_stdin()?;
            let reply = conn
                .rpc()
                .encrypt(EncryptRequest {
                    key_name: key,
                    plaintext: plaintext.to_vec(),
                    associated_data: aad.bytes()?,
                })
                .await?;
            if conn.json {
                emit_json(&json!({
                    "ciphertext": B64.encode(&reply.ciphertext),
                    "key_version": reply.key_version,
                }))?;
            } else {
                write_value(&reply.ciphertext, raw)?;
            }
        }
        DataCommand::Decrypt { aad, key, raw } => {
            let ciphertext = read_value(raw, "ciphertext")?;
            let reply = conn
                .rpc()
                .decrypt(DecryptRequest {
                    ciphertext,
                    associated_data: aad.bytes()?,
                    key_name: key.unwrap_or_default(),
                })
                .await?;
            if conn.json {
                let plaintext = Zeroizing::new(B64.encode(&reply.plaintext));
                emit_json(&json!({
                    "plaintext": plaintext.as_str(),
                    "key_name": reply.key_name,
                    "key_version": reply.key_version,
                }))?;
            } else {
                write_raw(&reply.plaintext)?;
            }
        }
        DataCommand::Sign { key, raw } => {
            let message = read_stdin()?;
            let reply = conn
                .rpc()
                .sign(SignRequest {
                    key_name: key,
                    message: message.to_vec(),
                })
                .await?;
            if conn.json {
                emit_json(&json!({
                    "signature": B64.encode(&reply.signature),
                    "key_version": reply.key_version,
                }))?;
            } else {
                write_value(&reply.signature, raw)?;
            }
        }
        DataCommand::Verify { signature } => {
            let signature = B64
                .decode(signature.trim())
                .map_err(|e| CliError::usage(format!("--signature is not base64: {e}")))?;
            let message = read_stdin()?;
            let reply = conn
                .rpc()
                .verify(VerifyRequest {
                    message: message.to_vec(),
                    signature,
                })
                .await?;
            if conn.json {
                emit_json(&json!({
                    "valid": reply.valid,
                    "key_name": reply.key_name,
                    "key_version": reply.key_version,
                }))?;
            } else {
                let verdict = if reply.valid { "valid" } else { "invalid" };
                println!(
                    "{verdict} (key {} version {})",
                    reply.key_name, reply.key_version
                );
            }
            if !reply.valid {
                return Ok(Exit::Failed);
            }
        }
        DataCommand::EncryptFile {
            key,
            aad,
            segment_size,
            force,
            input,
            output,
        } => {
            let job = FileJob::new(aad.bytes()?, force, input, output);
            return files::encrypt_file(conn, &key, segment_size, job).await;
        }
        DataCommand::DecryptFile {
            aad,
            force,
            input,
            output,
        } => {
            let job = FileJob::new(aad.bytes()?, force, input, output);
            return files::decrypt_file(conn, job).await;
        }
        DataCommand::Datakey {
            key,
            aad,
            wrapped_only,
        } => {
            let reply = conn
                .rpc()
                .generate_data_key(GenerateDataKeyRequest {
                    key_name: key,
                    associated_data: aad.bytes()?,
                })
                .await?;
            if wrapped_only {
                write_value(&reply.wrapped_key, false)?;
            } else {
                let plaintext_key = Zeroizing::new(B64.encode(&reply.plaintext_key));
                emit_json(&json!({
                    "plaintext_key": plaintext_key.as_str(),
                    "wrapped_key": B64.encode(&reply.wrapped_key),
                    "key_version": reply.key_version,
                }))?;
            }
        }
    }
    Ok(Exit::Success)
}

impl AadArgs {
    /// The associated data: `--aad` as UTF-8 bytes, `--aad-base64` decoded, or none.
    fn bytes(&self) -> Result<Vec<u8>, CliError> {
        match (&self.aad, &self.aad_base64) {
            (Some(text), None) => Ok(text.as_bytes().to_vec()),
            (None, Some(b64)) => B64
                .decode(b64.trim())
                .map_err(|e| CliError::usage(format!("--aad-base64 is not base64: {e}"))),
            (None, None) => Ok(Vec::new()),
            (Some(_), Some(_)) => Err(CliError::usage(
                "give the associated data once: --aad or --aad-base64",
            )),
        }
    }
}

/// Everything on stdin, wiped from memory when dropped (it may be a secret).
fn read_stdin() -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::failed(format!("cannot read stdin: {e}")))?;
    Ok(bytes)
}

/// A ciphertext or signature from stdin: base64 (surrounding whitespace ignored), or the raw
/// bytes with `--raw`.
fn read_value(raw: bool, what: &str) -> Result<Vec<u8>, CliError> {
    let bytes = read_stdin()?;
    if raw {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        CliError::usage(format!(
            "the {what} on stdin is not base64 (pass --raw for raw bytes)"
        ))
    })?;
    // Vault Transit's text form is sent as it is: the server reads it.
    if crate::crypto::is_vault_form(text.trim().as_bytes()) {
        return Ok(text.trim().as_bytes().to_vec());
    }
    B64.decode(text.trim()).map_err(|e| {
        CliError::usage(format!(
            "the {what} on stdin is not base64 ({e}); pass --raw for raw bytes"
        ))
    })
}

/// A ciphertext or signature to stdout: a base64 line, or the raw bytes with `--raw`.
fn write_value(bytes: &[u8], raw: bool) -> Result<(), CliError> {
    if raw {
        write_raw(bytes)
    } else {
        write_raw(format!("{}\n", B64.encode(bytes)).as_bytes())
    }
}

fn write_raw(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
