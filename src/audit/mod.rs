//! The tamper-evident audit trail: what is recorded ([`AuditEntry`]), how each stored row is
//! chained to the one before it ([`record_hash`]), how a chain is checked ([`ChainVerifier`]),
//! and the storage trait ([`AuditStore`]). No SQL here: the SQL backends implement the trait
//! in `sql/audit.rs`.
//!
//! Every row carries `hash = SHA-256(seq, at, entry, prev_hash)` and the hash of the row before
//! it (`prev_hash`; the first row's is [`GENESIS_HASH`]). Editing a row breaks its own hash;
//! deleting one leaves a gap in `seq`; moving rows around breaks the link to the row before.
//! An attacker who can write the database can still rewrite the chain from some row on and
//! recompute every later hash: [`VerifyReport::head_hash`] is what an auditor keeps outside
//! the database to catch that.

mod chain;
mod operation;
mod recorder;

use std::fmt;

use async_trait::async_trait;

use crate::clock::Millis;
use crate::storage_error::StoreResult;

pub(crate) use chain::ChainVerifier;
pub use chain::{record_hash, ChainFault, VerifyReport, GENESIS_HASH};
pub use operation::AuditOperation;
pub(crate) use recorder::Auditor;
pub use recorder::DataPlaneAudit;

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    /// Refused: unauthenticated, out of scope, rate limited.
    Denied,
    /// Attempted and failed.
    Failed,
}

impl Outcome {
    /// The spelling stored in the database and hashed into the chain.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited event, as a caller records it. Nothing here may be secret: no token, no key
/// material, no plaintext, in any field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who: a token id ("tok-…"), a certificate subject, "scheduler" or "anonymous".
    pub principal: String,
    /// What: an [`AuditOperation`]'s spelling, a data-plane operation ("encrypt"…) in
    /// `every_call` mode, or, on a denial, the name of the refused rpc.
    pub operation: String,
    pub key_name: Option<String>,
    pub key_version: Option<u32>,
    pub outcome: Outcome,
    /// Records processed, when relevant (migrations, data-plane summaries).
    pub records: Option<u64>,
    /// Short human text.
    pub detail: String,
    pub request_id: Option<String>,
    /// The rotation event the operation created or acted on. Hashed only when present, so
    /// rows written before the field existed keep their hashes.
    pub event_id: Option<String>,
}

impl AuditEntry {
    /// An entry with no key, version, record count, detail or request id.
    pub fn new(
        principal: impl Into<String>,
        operation: impl Into<String>,
        outcome: Outcome,
    ) -> Self {
        Self {
            principal: principal.into(),
            operation: operation.into(),
            key_name: None,
            key_version: None,
            outcome,
            records: None,
            detail: String::new(),
            request_id: None,
            event_id: None,
        }
    }

    /// Sets the key (and, if known, its version).
    pub fn key(mut self, name: impl Into<String>, version: Option<u32>) -> Self {
        self.key_name = Some(name.into());
        self.key_version = version;
        self
    }

    pub fn records(mut self, records: u64) -> Self {
        self.records = Some(records);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn event(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    /// The entry as every backend can store it: NUL characters (which PostgreSQL `TEXT`
    /// refuses) replaced by U+FFFD, so that an odd principal or detail never makes the audit
    /// write, and with it the audited operation, fail. Stores hash and keep this form.
    pub fn storable(&self) -> AuditEntry {
        fn clean(s: &str) -> String {
            s.replace('\0', "\u{FFFD}")
        }
        AuditEntry {
            principal: clean(&self.principal),
            operation: clean(&self.operation),
            key_name: self.key_name.as_deref().map(clean),
            key_version: self.key_version,
            outcome: self.outcome,
            records: self.records,
            detail: clean(&self.detail),
            request_id: self.request_id.as_deref().map(clean),
            event_id: self.event_id.as_deref().map(clean),
        }
    }
}

/// One stored row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the log: 1, 2, 3… without gaps.
    pub seq: i64,
    /// When it was recorded (UTC, ms since the Unix epoch).
    pub at: Millis,
    pub entry: AuditEntry,
    /// `hash` of the row before (64 zeros for row 1).
    pub prev_hash: String,
    /// [`record_hash`] of this row.
    pub hash: String,
}

/// Rows to list: every condition that is set must hold. Rows come in `seq` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Recorded at or after this time.
    pub from: Option<Millis>,
    /// Recorded before this time (exclusive).
    pub to: Option<Millis>,
    pub key_name: Option<String>,
    pub principal: Option<String>,
    pub operation: Option<String>,
    /// At most this many rows; 0 means [`AuditFilter::DEFAULT_LIMIT`], and more than
    /// [`AuditFilter::MAX_LIMIT`] means that.
    pub limit: u32,
    /// Only rows with a greater `seq`: pass the last `seq` of one page to get the next.
    pub after_seq: Option<i64>,
}

impl AuditFilter {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 10_000;

    /// The number of rows a store returns at most.
    pub(crate) fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

impl Default for AuditFilter {
    /// No conditions, [`AuditFilter::DEFAULT_LIMIT`] rows.
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            key_name: None,
            principal: None,
            operation: None,
            limit: Self::DEFAULT_LIMIT,
            after_seq: None,
        }
    }
}

/// Storage of the audit log. Rows are only ever appended.
#[async_trait]
pub trait AuditStore: Send + Sync + fmt::Debug {
    /// Appends `entry` (in its [`AuditEntry::storable`] form) recorded at `at`, atomically:
    /// the next `seq` and the previous row's hash are taken under a lock, so several replicas
    /// appending at once still produce one unbroken chain. Returns the stored row.
    async fn append(&self, entry: &AuditEntry, at: Millis) -> StoreResult<AuditRecord>;

    /// Rows matching `filter`, `seq` ascending.
    async fn list(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;

    /// Reads the whole log in `seq` order, page by page, and verifies its chain (reporting the
    /// first [`ChainFault`]); also checks the last row against the log's recorded head, so that
    /// deleting the newest rows is detected too.
    async fn verify(&self) -> StoreResult<VerifyReport>;
}
