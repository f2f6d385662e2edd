//! The `rekey` command line. `rekey serve` runs the server; every other subcommand is an admin
//! client of a running server over gRPC.
//!
//! Layout: `args` (subcommand arguments), `client` (connection and bearer token), `exit`
//! (errors and exit codes), `output` (tables, times, JSON printing), `json` (protobuf
//! messages as JSON), `keys`, `events`, `admin`, `report` and `data` (the subcommands), `wait`
//! (following an event with a progress bar), `serve` (the server).

mod admin;
mod args;
mod client;
mod data;
mod events;
mod exit;
mod files;
mod import;
mod json;
mod keys;
mod output;
mod report;
mod report_json;
mod root;
mod serve;
mod wait;

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub(crate) use args::{
    AuditCommand, DataCommand, EventsCommand, ReportArgs, RollbackArgs, RotateArgs, TokenCommand,
};
pub(crate) use exit::{CliError, Exit};
pub(crate) use serve::ServeArgs;

use client::Conn;

const LONG_ABOUT: &str = "\
Rekey key-management service.

`rekey serve` runs the server. Every other subcommand is a client of a running server over
gRPC, built on the rekey-client crate (deadlines, and retries of the calls that are safe to
retry): --addr (or REKEY_ADDR) names the server, http:// or https:// (with --ca-file or
REKEY_CA_FILE; REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE for mTLS); the bearer token is
read from REKEY_TOKEN, or from the file given with --token-file (or REKEY_TOKEN_FILE), which
wins, as in the client libraries. --json prints
machine-readable JSON on stdout. Errors are printed to stderr as `rekey: error: <message>`.

Exit codes:
  0  success
  1  the operation failed: the event failed (or was rolled back while waiting for it to
     complete), the audit log was tampered with, `verify` found the signature does not match,
     a retired key version or a key of the wrong purpose, or a server error
  2  usage error: bad arguments or input (e.g. stdin not base64), or a request the server
     rejected as invalid (INVALID_ARGUMENT), including a ciphertext that fails authentication
  3  nothing done: `rotate` without --force on a key that is not due
  4  not found: no such key, event or token
  5  unauthenticated or permission denied: missing, unknown, expired or revoked token, or a
     token without the admin role
  6  server unreachable or unavailable: retry later";

#[derive(Debug, Parser)]
#[command(
    name = "rekey",
    version,
    about = "Rekey key-management service",
    long_about = LONG_ABOUT
)]
pub struct Cli {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How the client subcommands reach the server (ignored by `serve`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Client options")]
pub(crate) struct ConnectionArgs {
    /// gRPC address of the Rekey server.
    #[arg(
        long,
        global = true,
        env = "REKEY_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) addr: String,
    /// Read the bearer token from this file instead of the REKEY_TOKEN environment variable
    /// (default: REKEY_TOKEN_FILE, as the client libraries read it).
    #[arg(long, global = true, env = "REKEY_TOKEN_FILE", value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate, for https:// addresses
    /// (default: REKEY_CA_FILE). mTLS: REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the server (gRPC on 127.0.0.1:50051, SQLite in ./rekey-data unless configured).
    Serve(ServeArgs),
    /// Re-wrap every stored key version under a new root key (offline: stop every replica
    /// first). Takes the same configuration as `serve`; the current root key comes from it.
    /// Resumable: run it again with the same keys after an interruption.
    RotateRootKey(root::RotateRootKeyArgs),
    /// The root key in a PKCS#11 token (HSM): create it (`init-key`).
    #[command(subcommand)]
    Hsm(root::HsmCommand),
    /// Bring keys in from another system: `vault-transit` (a Vault Transit key backup).
    /// Opens the keystore with the same configuration as `serve`.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Lifecycle status of every key, or of one: versions, age, next rotation, alert level.
    Status {
        /// Key name, e.g. TOKEN_ENCRYPTION; every key when omitted.
        key: Option<String>,
    },
    /// Stored records per key version and per migration target, and how many must migrate.
    Impact {
        /// Key name.
        key: String,
    },
    /// Rotate a key if it is due (exit 3 if not), or at once with --force.
    Rotate(RotateArgs),
    /// Make the key's previous version primary again and migrate records back to it.
    Rollback(RollbackArgs),
    /// Per key: last rotation and next due date; when the scheduler runs next.
    Schedule,
    /// Rotation events: list, show, retry, execute, roll back.
    #[command(subcommand)]
    Events(EventsCommand),
    /// A runbook report (post-rotation, weekly, monthly, quarterly) as JSON, Markdown or CSV.
    Report(ReportArgs),
    /// API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The hash-chained audit log: list records, verify the chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Data plane for scripts: encrypt, decrypt, sign, verify, datakey (stdin to stdout),
    /// encrypt-file and decrypt-file (files of any size).
    #[command(flatten)]
    Data(DataCommand),
    /// Asks the server's grpc.health.v1 service whether Rekey is SERVING (exit 0) or not
    /// (exit 1); needs no token. For container health checks.
    Health {
        /// The health name to ask about: rekey.v1.KeyService (the data plane, the default),
        /// rekey.v1.RotationService, rekey.v1.AdminService, rekey.RootKey (the root key can
        /// be used: NOT_SERVING while its token is unreachable), or "" for the whole server.
        #[arg(long, default_value = "rekey.v1.KeyService")]
        service: String,
    },
}

/// Runs the command. `serve` returns its error for `main` to print. A client subcommand prints
/// its own output and errors (`rekey: error: …` on stderr) and, when its exit code is not 0,
/// ends the process with that code (see the exit codes in `rekey --help`).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli {
        connection,
        command,
    } = cli;
    if let Command::Serve(args) = command {
        return serve::serve(args).await;
    }
    if let Command::RotateRootKey(args) = command {
        return root::rotate_root_key(args).await;
    }
    if let Command::Hsm(command) = command {
        return root::hsm(command).await;
    }
    if let Command::Import(command) = command {
        return import::run(command).await;
    }
    let has_token = connection.token_file.is_some() || client::env_token().is_some();
    let exit = match dispatch(&connection, command).await {
        Ok(exit) => exit,
        Err(err) => {
            let mut message = err.message.clone();
            if err.exit == Exit::Denied && !has_token {
                message.push_str(" (set REKEY_TOKEN or REKEY_TOKEN_FILE, or pass --token-file)");
            }
            eprintln!("rekey: error: {message}");
            err.exit
        }
    };
    if exit != Exit::Success {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        std::process::exit(exit.code());
    }
    Ok(())
}

/// What `main` prints after `rekey: error: `: the error and each cause that adds something,
/// joined with ": ". Many errors already quote their source in their own text, so printing
/// the whole chain (`{:#}`) would repeat it.
pub fn error_message(err: &anyhow::Error) -> String {
    exit::chain(err.as_ref())
}

async fn dispatch(args: &ConnectionArgs, command: Command) -> Result<Exit, CliError> {
    let conn = Conn::connect(args).await?;
    match command {
        Command::Serve(_) | Command::RotateRootKey(_) | Command::Hsm(_) | Command::Import(_) => {
            Err(CliError::usage("not a client command"))
        }
        Command::Status { key } => keys::status(&conn, key).await,
        Command::Impact { key } => keys::impact(&conn, key).await,
        Command::Rotate(a) => keys::rotate(&conn, a).await,
        Command::Rollback(a) => keys::rollback(&conn, a).await,
        Command::Schedule => keys::schedule(&conn).await,
        Command::Events(c) => events::run(&conn, c).await,
        Command::Report(a) => report::run(&conn, a).await,
        Command::Token(c) => admin::token(&conn, c).await,
        Command::Audit(c) => admin::audit(&conn, c).await,
        Command::Data(c) => data::run(&conn, c).await,
        Command::Health { service } => keys::health(&conn, &service).await,
    }
}
