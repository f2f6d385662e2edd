//! The `rekey` command line. `rekey serve` runs the server; every other subcommand is a
//! client of a running server over gRPC.
//!
//! Layout: `args` (subcommand arguments), `client` (connection and bearer token), `exit`
//! (errors and exit codes), `data` (encrypt, decrypt, sign, verify and datakey, on
//! rekey-client), `output` (tables, times, JSON printing), `json` (protobuf messages as JSON),
//! `keys`, `events`, `admin` and `report` (the subcommands), `wait` (following an event with a
//! progress bar), `serve` (the server).

mod admin;
mod args;
mod client;
mod data;
mod events;
mod exit;
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
    AuditCommand, EventsCommand, ReportArgs, RollbackArgs, RotateArgs, TokenCommand,
};
pub(crate) use exit::{CliError, Exit};
pub(crate) use serve::ServeArgs;

use client::Conn;

const LONG_ABOUT: &str = "\
Rekey key-management service.

`rekey serve` runs the server. Every other subcommand is a client of a running server over
gRPC (encrypt, decrypt, sign, verify and datakey read stdin and write stdout, raw or with
--base64): --addr (or REKEY_ADDR) names the server; the bearer token is read from REKEY_TOKEN,
or from the file given with --token-file. --json prints machine-readable JSON on stdout.
Errors are printed to stderr as `rekey: error: <message>`.

Exit codes:
  0  success
  1  the operation failed: the event failed (or was rolled back while waiting for it to
     complete), the audit log was tampered with, a signature does not match, or a server
     error
  2  usage error: bad arguments, or a request the server rejected as invalid (INVALID_ARGUMENT,
     including a ciphertext that fails authentication)
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
    /// Read the bearer token from this file instead of the REKEY_TOKEN environment variable.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
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
    /// Encrypt stdin under --key (server-side AES-256-GCM); the ciphertext on stdout.
    Encrypt(data::EncryptArgs),
    /// Decrypt a ciphertext (or envelope ciphertext) read from stdin; the plaintext on stdout.
    Decrypt(data::DecryptArgs),
    /// Sign stdin with --key (HMAC-SHA256); the signature on stdout.
    Sign(data::SignArgs),
    /// Verify stdin against --signature-file: exit 0 when valid, 1 when it does not match.
    Verify(data::VerifyArgs),
    /// A fresh data key under --key, as JSON: plaintext_key and wrapped_key (base64), key_version.
    Datakey(data::DatakeyArgs),
    /// Asks the server's grpc.health.v1 service whether Rekey is SERVING (exit 0) or not
    /// (exit 1); needs no token. For container health checks.
    Health,
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
    let has_token = connection.token_file.is_some() || client::env_token().is_some();
    let result = match route(command) {
        Routed::Data(data) => data::run(&connection, data).await,
        Routed::Admin(command) => dispatch(&connection, command).await,
    };
    let exit = match result {
        Ok(exit) => exit,
        Err(err) => {
            let mut message = err.message.clone();
            if err.exit == Exit::Denied && !has_token {
                message.push_str(" (set REKEY_TOKEN or pass --token-file)");
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

/// A client command: a data command (run on the Rust client) or an admin one.
enum Routed {
    Data(data::DataCommand),
    Admin(Command),
}

fn route(command: Command) -> Routed {
    match command {
        Command::Encrypt(a) => Routed::Data(data::DataCommand::Encrypt(a)),
        Command::Decrypt(a) => Routed::Data(data::DataCommand::Decrypt(a)),
        Command::Sign(a) => Routed::Data(data::DataCommand::Sign(a)),
        Command::Verify(a) => Routed::Data(data::DataCommand::Verify(a)),
        Command::Datakey(a) => Routed::Data(data::DataCommand::Datakey(a)),
        other => Routed::Admin(other),
    }
}

async fn dispatch(args: &ConnectionArgs, command: Command) -> Result<Exit, CliError> {
    let conn = Conn::connect(args).await?;
    match command {
        Command::Serve(_)
        | Command::RotateRootKey(_)
        | Command::Encrypt(_)
        | Command::Decrypt(_)
        | Command::Sign(_)
        | Command::Verify(_)
        | Command::Datakey(_) => Err(CliError::usage("not an admin client command")),
        Command::Status { key } => keys::status(&conn, key).await,
        Command::Impact { key } => keys::impact(&conn, key).await,
        Command::Rotate(a) => keys::rotate(&conn, a).await,
        Command::Rollback(a) => keys::rollback(&conn, a).await,
        Command::Schedule => keys::schedule(&conn).await,
        Command::Events(c) => events::run(&conn, c).await,
        Command::Report(a) => report::run(&conn, a).await,
        Command::Token(c) => admin::token(&conn, c).await,
        Command::Audit(c) => admin::audit(&conn, c).await,
        Command::Health => keys::health(&conn).await,
    }
}
