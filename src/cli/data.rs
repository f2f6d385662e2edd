//! The data subcommands for scripts, on the Rust client (crates/rekey-client): `encrypt`,
//! `decrypt`, `sign`, `verify`, `datakey`. Input from stdin, output on stdout, raw bytes by
//! default or base64 with `--base64`; the exit codes are those of `rekey --help`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rekey_client::proto::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, SignRequest, VerifyRequest,
};
use rekey_client::{Client, ClientBuilder, Error};
use zeroize::Zeroizing;

use super::exit::{CliError, Exit};
use super::ConnectionArgs;

/// Input and output encoding shared by the data subcommands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Encoding {
    /// Read base64 from stdin and write base64 (one line) to stdout, instead of raw bytes.
    #[arg(long)]
    pub(crate) base64: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EncryptArgs {
    /// Encryption key name, e.g. TOKEN_ENCRYPTION.
    #[arg(long)]
    pub(crate) key: String,
    /// Associated data (authenticated, not stored): decrypt needs the same text.
    #[arg(long, default_value = "")]
    pub(crate) aad: String,
    #[command(flatten)]
    pub(crate) encoding: Encoding,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DecryptArgs {
    /// The associated data given to encrypt.
    #[arg(long, default_value = "")]
    pub(crate) aad: String,
    #[command(flatten)]
    pub(crate) encoding: Encoding,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// Signing key name, e.g. API_SIGNATURE.
    #[arg(long)]
    pub(crate) key: String,
    #[command(flatten)]
    pub(crate) encoding: Encoding,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// File holding the signature (raw, or base64 with --base64); the message is stdin.
    #[arg(long, value_name = "PATH")]
    pub(crate) signature_file: PathBuf,
    #[command(flatten)]
    pub(crate) encoding: Encoding,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DatakeyArgs {
    /// Encryption key name that wraps the data key.
    #[arg(long)]
    pub(crate) key: String,
    /// Associated data to bind to the wrapped key (decrypt of the wrapped key needs it).
    #[arg(long, default_value = "")]
    pub(crate) aad: String,
}

/// One data subcommand.
#[derive(Debug)]
pub(crate) enum DataCommand {
    Encrypt(EncryptArgs),
    Decrypt(DecryptArgs),
    Sign(SignArgs),
    Verify(VerifyArgs),
    Datakey(DatakeyArgs),
}

pub(crate) async fn run(args: &ConnectionArgs, command: DataCommand) -> Result<Exit, CliError> {
    let client = connect(args).await?;
    match command {
        DataCommand::Encrypt(a) => {
            let plaintext = Zeroizing::new(read_stdin(a.encoding.base64)?);
            let response = client
                .encrypt(EncryptRequest {
                    key_name: a.key,
                    plaintext: plaintext.to_vec(),
                    associated_data: a.aad.into_bytes(),
                })
                .await
                .map_err(failed)?;
            write_stdout(&response.ciphertext, a.encoding.base64)?;
        }
        DataCommand::Decrypt(a) => {
            let response = client
                .decrypt(DecryptRequest {
                    ciphertext: read_stdin(a.encoding.base64)?,
                    associated_data: a.aad.into_bytes(),
                })
                .await
                .map_err(failed)?;
            write_stdout(&response.plaintext, a.encoding.base64)?;
        }
        DataCommand::Sign(a) => {
            let response = client
                .sign(SignRequest {
                    key_name: a.key,
                    message: read_stdin(a.encoding.base64)?,
                })
                .await
                .map_err(failed)?;
            write_stdout(&response.signature, a.encoding.base64)?;
        }
        DataCommand::Verify(a) => {
            let signature = std::fs::read(&a.signature_file).map_err(|e| {
                CliError::usage(format!("cannot read {}: {e}", a.signature_file.display()))
            })?;
            let signature = if a.encoding.base64 {
                decode(&signature)?
            } else {
                signature
            };
            let response = client
                .verify(VerifyRequest {
                    message: read_stdin(a.encoding.base64)?,
                    signature,
                })
                .await
                .map_err(failed)?;
            if !response.valid {
                return Err(CliError::new(
                    Exit::Failed,
                    "the signature does not match the message",
                ));
            }
            println!(
                "valid: {} version {}",
                response.key_name, response.key_version
            );
        }
        DataCommand::Datakey(a) => {
            let response = client
                .generate_data_key(GenerateDataKeyRequest {
                    key_name: a.key,
                    associated_data: a.aad.into_bytes(),
                })
                .await
                .map_err(failed)?;
            let json = Zeroizing::new(
                serde_json::json!({
                    "plaintext_key": STANDARD.encode(&response.plaintext_key),
                    "wrapped_key": STANDARD.encode(&response.wrapped_key),
                    "key_version": response.key_version,
                })
                .to_string(),
            );
            println!("{}", json.as_str());
        }
    }
    Ok(Exit::Success)
}

async fn connect(args: &ConnectionArgs) -> Result<Client, CliError> {
    let mut builder = ClientBuilder::new(args.addr.clone());
    if let Some(path) = &args.token_file {
        builder = builder.token_file(path);
    } else if let Some(token) = super::client::env_token() {
        builder = builder.token(token);
    }
    builder.connect().await.map_err(failed)
}

/// The documented exit code of a client error; the message is the client's, the server's
/// words included.
fn failed(err: Error) -> CliError {
    let exit = match &err {
        Error::KeyNotFound { .. } | Error::NotFound { .. } => Exit::NotFound,
        Error::PermissionDenied { .. } | Error::Unauthenticated { .. } => Exit::Denied,
        Error::Unavailable { .. } | Error::DeadlineExceeded { .. } | Error::Transport { .. } => {
            Exit::Unreachable
        }
        Error::InvalidArgument { .. }
        | Error::InvalidCiphertext { .. }
        | Error::AuthenticationFailed { .. }
        | Error::TooLarge { .. }
        | Error::Config { .. } => Exit::Usage,
        Error::VersionRetired { .. }
        | Error::FailedPrecondition { .. }
        | Error::RateLimited { .. }
        | Error::Internal { .. } => Exit::Failed,
    };
    CliError::new(exit, err.to_string())
}

fn read_stdin(base64: bool) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
    if base64 {
        decode(&bytes)
    } else {
        Ok(bytes)
    }
}

fn decode(text: &[u8]) -> Result<Vec<u8>, CliError> {
    let text: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(&text)
        .map_err(|e| CliError::usage(format!("the input is not base64: {e}")))
}

fn write_stdout(bytes: &[u8], base64: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let written = if base64 {
        writeln!(out, "{}", STANDARD.encode(bytes))
    } else {
        out.write_all(bytes)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(Exit::Failed, format!("cannot write stdout: {e}")))
}
