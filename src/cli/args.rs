//! Arguments of the client subcommands.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Subcommand, ValueEnum};
use prost_types::Timestamp;

pub(crate) use crate::admin::reports::ReportKind;

#[derive(Debug, clap::Args)]
pub(crate) struct RotateArgs {
    /// Key name, e.g. TOKEN_ENCRYPTION.
    pub(crate) key: String,
    /// Emergency rotation: rotate now even though the key is not due.
    #[arg(long)]
    pub(crate) force: bool,
    /// Follow the migration (progress on stderr) until it ends; exit 1 unless it completes.
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    /// Key name.
    pub(crate) key: String,
    /// Follow the migration back (progress on stderr) until it ends; exit 1 unless it completes.
    #[arg(long)]
    pub(crate) wait: bool,
}

const EVENT_STATUSES: [&str; 5] = [
    "pending",
    "in_progress",
    "completed",
    "failed",
    "rolled_back",
];

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Rotation events, newest first.
    List {
        /// Only this key's events.
        #[arg(long)]
        key: Option<String>,
        /// Only events with this status.
        #[arg(long, value_parser = EVENT_STATUSES)]
        status: Option<String>,
        /// At most this many events (server default 50, at most 1000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One event: versions, status, progress per target, errors.
    Show {
        /// Event id (evt-…).
        id: String,
    },
    /// Resume a failed event from its checkpoint.
    Retry {
        /// Event id.
        id: String,
        /// Follow the migration until it ends; exit 1 unless it completes.
        #[arg(long)]
        wait: bool,
    },
    /// Run or continue an event's migration now.
    Execute {
        /// Event id.
        id: String,
        /// Records per batch from now on (1 to 100000).
        #[arg(long)]
        batch_size: Option<crate::rotation::BatchSize>,
        /// Follow the migration until it ends; exit 1 unless it completes.
        #[arg(long)]
        wait: bool,
    },
    /// Roll an event back: its from-version becomes primary again and records move back.
    Rollback {
        /// Event id.
        id: String,
        /// Follow the migration back until it ends; exit 1 unless it ends rolled back.
        #[arg(long)]
        wait: bool,
    },
}

/// The server's report kinds as `rekey report` names them (the one [`ReportKind`], so the
/// names cannot drift from what the server accepts).
impl ValueEnum for ReportKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ReportKind::PostRotation,
            ReportKind::Weekly,
            ReportKind::Monthly,
            ReportKind::Quarterly,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            ReportKind::PostRotation => {
                "Per event: key, versions, duration, counts, records/second, errors (default: last day)"
            }
            ReportKind::Weekly => "Key status summary (default: last 7 days)",
            ReportKind::Monthly => {
                "Rotation performance: success rate, records/second, error rates (last 30 days)"
            }
            ReportKind::Quarterly => {
                "Compliance per key: policy, rotations, overdue periods, versions past grace (90 days)"
            }
        };
        let value = PossibleValue::new(self.as_str()).help(help);
        Some(match self {
            ReportKind::PostRotation => value.alias("post-rotation"),
            _ => value,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Json,
    Markdown,
    Csv,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// Which report.
    #[arg(long, value_enum, default_value = "post_rotation")]
    pub(crate) kind: ReportKind,
    /// Start of the period (RFC 3339, or YYYY-MM-DD for midnight UTC), inclusive.
    #[arg(long, value_parser = parse_time)]
    pub(crate) from: Option<Timestamp>,
    /// End of the period (RFC 3339, or YYYY-MM-DD), exclusive; default now.
    #[arg(long, value_parser = parse_time)]
    pub(crate) to: Option<Timestamp>,
    /// Output format; default markdown, or json with --json.
    #[arg(long, value_enum)]
    pub(crate) format: Option<ReportFormat>,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenRole {
    /// Every rpc.
    Admin,
    /// Data-plane rpcs only, optionally limited to --keys and --operations.
    Client,
}

const OPERATIONS: [&str; 6] = [
    "encrypt",
    "decrypt",
    "generate_data_key",
    "rewrap",
    "sign",
    "verify",
];

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; it is printed once and cannot be shown again.
    Create {
        /// A label for people, e.g. "billing-service production".
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: TokenRole,
        /// Client tokens: the keys it may use (comma-separated); every key when omitted.
        #[arg(long, value_delimiter = ',', value_name = "K1,K2")]
        keys: Vec<String>,
        /// Client tokens: the operations it may perform (comma-separated); all when omitted.
        #[arg(long, value_delimiter = ',', value_parser = OPERATIONS, value_name = "OPS")]
        operations: Vec<String>,
        /// Expire the token this many days from now.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// Every token, revoked ones included, without secrets.
    List,
    /// Revoke a token at once.
    Revoke {
        /// Token id (tok_…).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Audit records, oldest first.
    List {
        /// Only records about this key.
        #[arg(long)]
        key: Option<String>,
        /// Only records by this principal (token id, "scheduler", …).
        #[arg(long)]
        principal: Option<String>,
        /// Only this operation, e.g. Rotate or CreateToken.
        #[arg(long)]
        operation: Option<String>,
        /// From this time (RFC 3339 or YYYY-MM-DD), inclusive.
        #[arg(long, value_parser = parse_time)]
        from: Option<Timestamp>,
        /// Until this time (RFC 3339 or YYYY-MM-DD), exclusive.
        #[arg(long, value_parser = parse_time)]
        to: Option<Timestamp>,
        /// At most this many records (server default 100, at most 10000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Walk the hash chain: exit 0 when intact, 1 at the first edited, deleted or moved row.
    Verify,
}

/// RFC 3339 (`2025-01-31T12:00:00Z`), or a date (`2025-01-31`) meaning midnight UTC.
pub(super) fn parse_time(s: &str) -> Result<Timestamp, String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| format!("{s:?} is not an RFC 3339 time (2025-01-31T12:00:00Z) or a date"))?;
    Ok(Timestamp {
        seconds: parsed.timestamp(),
        nanos: parsed.timestamp_subsec_nanos() as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_dates() {
        assert_eq!(parse_time("1970-01-02T00:00:01Z").unwrap().seconds, 86_401);
        assert_eq!(
            parse_time("1970-01-02T02:00:00+02:00").unwrap().seconds,
            86_400
        );
        assert_eq!(parse_time("1970-01-02").unwrap().seconds, 86_400);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn execute_refuses_a_batch_size_out_of_bounds_before_calling_the_server() {
        use clap::Parser as _;
        let parse = |size: &str| {
            crate::cli::Cli::try_parse_from([
                "rekey",
                "events",
                "execute",
                "evt-1",
                "--batch-size",
                size,
            ])
        };
        let parsed = parse("500").unwrap();
        assert!(matches!(
            parsed.command,
            crate::cli::Command::Events(EventsCommand::Execute { batch_size: Some(b), .. }) if b.get() == 500
        ));
        for bad in ["0", "100001", "many"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("between 1 and 100000"), "{bad}: {err}");
        }
    }
}

/// Associated data of encrypt, decrypt and datakey: authenticated, not encrypted; decryption
/// needs the same bytes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AadArgs {
    /// Associated data as text (its UTF-8 bytes), e.g. the id of the row the value belongs to.
    #[arg(long, value_name = "TEXT")]
    pub(crate) aad: Option<String>,
    /// Associated data as base64, for binary associated data.
    #[arg(long, value_name = "B64", conflicts_with = "aad")]
    pub(crate) aad_base64: Option<String>,
}

/// The data-plane subcommands (stdin to stdout).
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Encrypt stdin under the key's primary version; prints the ciphertext as base64.
    Encrypt {
        /// Key name, e.g. TOKEN_ENCRYPTION.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        aad: AadArgs,
        /// Write the ciphertext as raw bytes instead of a base64 line.
        #[arg(long)]
        raw: bool,
    },
    /// Decrypt a ciphertext (base64 on stdin) made by encrypt, datakey, rewrap or a client's
    /// envelope encryption, or a value in Vault Transit's form (`vault:v<N>:...`); writes the
    /// plaintext bytes.
    Decrypt {
        #[command(flatten)]
        aad: AadArgs,
        /// The key the value must be of; needed for a value Vault itself made (imported key),
        /// which does not name its key.
        #[arg(long)]
        key: Option<String>,
        /// Read the ciphertext as raw bytes instead of base64.
        #[arg(long)]
        raw: bool,
    },
    /// Sign stdin with an HMAC-SHA256 key's primary version; prints the signature as base64.
    Sign {
        /// Key name, e.g. API_SIGNATURE.
        #[arg(long)]
        key: String,
        /// Write the signature as raw bytes instead of a base64 line.
        #[arg(long)]
        raw: bool,
    },
    /// Verify a signature of stdin: exit 0 when it matches, 1 when it does not.
    Verify {
        /// The signature, base64, as sign printed it.
        #[arg(long, value_name = "B64")]
        signature: String,
    },
    /// Encrypt a file of any size into a stream ciphertext, locally under a data key from the
    /// server (one GenerateDataKey call; the file never leaves this machine), in constant
    /// memory, with a progress bar on a terminal. `-` reads stdin or writes stdout.
    EncryptFile {
        /// Key name, e.g. FILE_ENCRYPTION.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        aad: AadArgs,
        /// Plaintext bytes per segment, 256 to 1048576: smaller segments make byte-range
        /// reads cheaper, larger ones cost less per byte.
        #[arg(long, default_value_t = 65536, value_name = "BYTES")]
        segment_size: u32,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
        /// The file to encrypt, or - for stdin.
        input: PathBuf,
        /// Where to write the stream ciphertext, or - for stdout. Written to a temporary file
        /// beside it and renamed only when complete.
        output: PathBuf,
    },
    /// Decrypt a stream ciphertext made by encrypt-file, a client's stream encryption or
    /// EncryptStream. OUT appears only once every segment (and the end) authenticated.
    DecryptFile {
        #[command(flatten)]
        aad: AadArgs,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
        /// The stream ciphertext, or - for stdin.
        input: PathBuf,
        /// Where to write the plaintext, or - for stdout (then a failure at the end leaves
        /// the plaintext of the segments before it written: check the exit code).
        output: PathBuf,
    },
    /// A fresh 256-bit data key: JSON with the plaintext key and its wrapped form (base64),
    /// or only the wrapped key with --wrapped-only.
    Datakey {
        /// Key name of the encryption key that wraps the data key.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        aad: AadArgs,
        /// Print only the wrapped key (base64): the plaintext key never leaves the server.
        #[arg(long)]
        wrapped_only: bool,
    },
}
