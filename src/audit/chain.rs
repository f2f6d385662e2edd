//! The hash chain: the canonical encoding hashed into each row, and the walk that finds the
//! first row that was edited, deleted or moved.

use std::fmt;

use sha2::{Digest, Sha256};

use super::{AuditEntry, AuditRecord};
use crate::clock::Millis;

/// `prev_hash` of row 1.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version tag hashed first, so that a future encoding can never collide with this one.
const DOMAIN: &[u8] = b"rekey.audit.v1";

/// How far (in rows) from where it sits a row whose hash does not match its content is looked
/// for: a row found to belong elsewhere was moved (reordered, renumbered), not edited.
const MOVE_WINDOW: i64 = 4096;

/// Lowercase hex SHA-256 of the row: the domain tag, then `seq`, `at`, every field of `entry`
/// in declaration order (`event_id` excepted), then `prev_hash`, then `event_id` if present. Integers are fixed-width big-endian, strings are
/// prefixed with their length in bytes (u64 big-endian), and optional fields with a presence
/// byte (0 absent, 1 present), so no two different rows encode to the same bytes.
pub fn record_hash(seq: i64, at: Millis, entry: &AuditEntry, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    bytes(&mut h, DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    bytes(&mut h, entry.principal.as_bytes());
    bytes(&mut h, entry.operation.as_bytes());
    optional(&mut h, entry.key_name.as_deref(), |h, name| {
        bytes(h, name.as_bytes())
    });
    optional(&mut h, entry.key_version, |h, version| {
        h.update(version.to_be_bytes())
    });
    bytes(&mut h, entry.outcome.as_str().as_bytes());
    optional(&mut h, entry.records, |h, records| {
        h.update(records.to_be_bytes())
    });
    bytes(&mut h, entry.detail.as_bytes());
    optional(&mut h, entry.request_id.as_deref(), |h, id| {
        bytes(h, id.as_bytes())
    });
    bytes(&mut h, prev_hash.as_bytes());
    // Added after the first release: absent, nothing is hashed (rows written before keep
    // their hashes); present, a presence byte and the id follow the length-prefixed
    // `prev_hash`, which no row without it can end with.
    if let Some(event_id) = entry.event_id.as_deref() {
        h.update([1u8]);
        bytes(&mut h, event_id.as_bytes());
    }
    hex::encode(h.finalize())
}

fn bytes(h: &mut Sha256, value: &[u8]) {
    h.update((value.len() as u64).to_be_bytes());
    h.update(value);
}

fn optional<T>(h: &mut Sha256, value: Option<T>, encode: impl FnOnce(&mut Sha256, T)) {
    match value {
        None => h.update([0u8]),
        Some(value) => {
            h.update([1u8]);
            encode(h, value);
        }
    }
}

/// The first thing wrong with an audit log, naming the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainFault {
    /// The row's content (or its hash) was changed: they no longer match.
    Edited { seq: i64 },
    /// Row `missing_seq` (and maybe more) is gone: the row after `after_seq` is not
    /// `after_seq + 1`, or the log ends before its recorded head (`after_seq` is 0 when the
    /// log does not start at row 1).
    Deleted { after_seq: i64, missing_seq: i64 },
    /// The row is intact but not where it was written: its hash belongs to another position,
    /// or it does not chain to the row before it (rows swapped or renumbered, or the row
    /// before was replaced by a rewritten one).
    Reordered { seq: i64 },
    /// The first row does not start from the genesis hash.
    BadGenesis { seq: i64 },
}

impl ChainFault {
    /// The row the fault is reported at (for `Deleted`, the first missing row).
    pub(crate) fn seq(&self) -> i64 {
        match *self {
            ChainFault::Edited { seq }
            | ChainFault::Reordered { seq }
            | ChainFault::BadGenesis { seq } => seq,
            ChainFault::Deleted { missing_seq, .. } => missing_seq,
        }
    }
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChainFault::Edited { seq } => write!(
                f,
                "audit row {seq} was edited: its content no longer matches its hash"
            ),
            ChainFault::Deleted {
                after_seq: 0,
                missing_seq,
            } => write!(
                f,
                "audit row {missing_seq} was deleted: the log does not start with row 1"
            ),
            ChainFault::Deleted {
                after_seq,
                missing_seq,
            } => write!(
                f,
                "audit row {missing_seq} was deleted: no row {missing_seq} follows row {after_seq}"
            ),
            ChainFault::Reordered { seq } => write!(
                f,
                "audit row {seq} is out of order: it was not written at this position or does \
                 not chain to the row before it (rows were reordered or renumbered, or the row \
                 before it was rewritten)"
            ),
            ChainFault::BadGenesis { seq } => write!(
                f,
                "audit row {seq} is not a valid first row: its previous hash is not the genesis \
                 value (64 zeros)"
            ),
        }
    }
}

impl std::error::Error for ChainFault {}

/// The outcome of verifying an audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Rows read (all of them, also those after a fault).
    pub rows: u64,
    /// The first fault in `seq` order; `None` if the log is intact.
    pub first_fault: Option<ChainFault>,
    /// The stored hash of the last row read ([`GENESIS_HASH`] for an empty log). Kept outside
    /// the database, it lets a later verification prove that nothing up to here was rewritten.
    pub head_hash: String,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_fault.is_none()
    }
}

/// Verifies a chain one record at a time, so that a store can page through a log of any
/// size. Push records in `seq` order, then call [`ChainVerifier::finish`] (or
/// [`ChainVerifier::finish_at_head`] when the log's head is known).
///
/// It reports the first fault among the records pushed (in `seq` order):
/// - a gap in `seq` (row 1 missing, or `n + 1` not following `n`) → [`ChainFault::Deleted`];
/// - row 1 not starting from [`GENESIS_HASH`] → [`ChainFault::BadGenesis`];
/// - a hash that does not match the row's content → [`ChainFault::Edited`], unless the row
///   matches its hash at another position nearby (rows swapped, or renumbered after a
///   deletion) or its content is the next row's (contents swapped, hashes left in place) →
///   [`ChainFault::Reordered`];
/// - a consistent row whose `prev_hash` is not the previous row's hash, or a `seq` that does
///   not increase → [`ChainFault::Reordered`].
///
/// Deleting the newest rows leaves a shorter, valid chain: compare [`VerifyReport::head_hash`]
/// with a head kept elsewhere (the stores check it against the head they record, with
/// [`ChainVerifier::finish_at_head`]).
#[derive(Debug, Default)]
pub(crate) struct ChainVerifier {
    rows: u64,
    /// `seq` and stored hash of the last record pushed.
    last: Option<(i64, String)>,
    fault: Option<ChainFault>,
    /// A record whose content does not match its hash and that belongs nowhere nearby: edited,
    /// unless the next record shows that its content was swapped with the next row's.
    suspect: Option<AuditRecord>,
}

impl ChainVerifier {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The fault found so far, if any (for the unit tests, which look before the end).
    #[cfg(test)]
    pub(crate) fn fault(&self) -> Option<ChainFault> {
        self.fault
    }

    pub(crate) fn push(&mut self, record: AuditRecord) {
        self.rows += 1;
        let previous = self.last.replace((record.seq, record.hash.clone()));
        if self.fault.is_some() {
            return;
        }
        if let Some(suspect) = self.suspect.take() {
            self.fault = Some(settle_suspect(suspect, Some(&record)));
            return;
        }
        self.fault = self.check(previous, record);
    }

    /// Counts a row that cannot be read as an [`AuditRecord`] (an outcome or number no append
    /// writes): it was edited, unless the walk already found a fault before it.
    pub(crate) fn push_unreadable(&mut self, seq: i64, hash: String) {
        self.rows += 1;
        let previous = self.last.replace((seq, hash));
        if self.fault.is_some() {
            return;
        }
        if let Some(suspect) = self.suspect.take() {
            self.fault = Some(settle_suspect(suspect, None));
            return;
        }
        let after_seq = previous.map_or(0, |(seq, _)| seq);
        self.fault = Some(match after_seq.saturating_add(1) {
            expected if seq < expected => ChainFault::Reordered { seq },
            expected if seq > expected => ChainFault::Deleted {
                after_seq,
                missing_seq: expected,
            },
            _ => ChainFault::Edited { seq },
        });
    }

    fn check(
        &mut self,
        previous: Option<(i64, String)>,
        record: AuditRecord,
    ) -> Option<ChainFault> {
        let seq = record.seq;
        let after_seq = previous.as_ref().map_or(0, |(seq, _)| *seq);
        let expected = after_seq.saturating_add(1);
        if seq < expected {
            // A duplicate or a step backwards: only a reordered input can do that.
            return Some(ChainFault::Reordered { seq });
        }
        if seq > expected {
            return Some(ChainFault::Deleted {
                after_seq,
                missing_seq: expected,
            });
        }
        if seq == 1 && record.prev_hash != GENESIS_HASH {
            return Some(ChainFault::BadGenesis { seq });
        }
        if record_hash(seq, record.at, &record.entry, &record.prev_hash) != record.hash {
            if written_elsewhere(&record) {
                return Some(ChainFault::Reordered { seq });
            }
            self.suspect = Some(record);
            return None;
        }
        let expected_prev = previous.as_ref().map_or(GENESIS_HASH, |(_, hash)| hash);
        if record.prev_hash != expected_prev {
            return Some(ChainFault::Reordered { seq });
        }
        None
    }

    /// The report over the records pushed.
    pub(crate) fn finish(mut self) -> VerifyReport {
        if let Some(suspect) = self.suspect.take() {
            self.fault = Some(settle_suspect(suspect, None));
        }
        VerifyReport {
            rows: self.rows,
            first_fault: self.fault,
            head_hash: self
                .last
                .map_or_else(|| GENESIS_HASH.to_owned(), |(_, hash)| hash),
        }
    }

    /// As [`ChainVerifier::finish`], also checking the records against the log's head as
    /// recorded separately (the `seq` and hash of the newest row): a log that ends before its
    /// head lost its newest rows; a last row whose hash differs from the head's was rewritten.
    pub(crate) fn finish_at_head(self, head_seq: i64, head_hash: &str) -> VerifyReport {
        let last_seq = self.last.as_ref().map_or(0, |(seq, _)| *seq);
        let mut report = self.finish();
        if report.first_fault.is_none() {
            if last_seq < head_seq {
                report.first_fault = Some(ChainFault::Deleted {
                    after_seq: last_seq,
                    missing_seq: last_seq + 1,
                });
            } else if last_seq == head_seq && last_seq > 0 && report.head_hash != head_hash {
                report.first_fault = Some(ChainFault::Edited { seq: last_seq });
            }
        }
        report
    }
}

/// Whether `record`, whose hash does not match its content at its `seq`, matches it at another
/// `seq` nearby: it was written there and moved.
fn written_elsewhere(record: &AuditRecord) -> bool {
    (1..=MOVE_WINDOW).any(|distance| {
        [
            record.seq.checked_sub(distance),
            record.seq.checked_add(distance),
        ]
        .into_iter()
        .flatten()
        .filter(|&seq| seq >= 1)
        .any(|seq| record_hash(seq, record.at, &record.entry, &record.prev_hash) == record.hash)
    })
}

/// Decides about a row whose content does not match its hash, given the row after it: if the
/// suspect's content, hashed at the next position on top of the suspect's own hash, gives the
/// next row's hash, the two rows' contents were swapped (their chain columns left in place).
fn settle_suspect(suspect: AuditRecord, next: Option<&AuditRecord>) -> ChainFault {
    let seq = suspect.seq;
    let swapped_with_next = next.is_some_and(|next| {
        next.seq == seq + 1
            && record_hash(next.seq, suspect.at, &suspect.entry, &suspect.hash) == next.hash
    });
    if swapped_with_next {
        ChainFault::Reordered { seq }
    } else {
        ChainFault::Edited { seq }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Outcome;

    /// Verifies all of `records` at once through a [`ChainVerifier`].
    fn verify_chain(records: impl IntoIterator<Item = AuditRecord>) -> VerifyReport {
        let mut verifier = ChainVerifier::new();
        for record in records {
            verifier.push(record);
        }
        verifier.finish()
    }

    fn entry(i: i64) -> AuditEntry {
        AuditEntry {
            principal: format!("tok-{}", i % 3),
            operation: if i % 2 == 0 { "Rotate" } else { "Encrypt" }.to_owned(),
            key_name: (i % 4 != 0).then(|| format!("KEY_{}", i % 2)),
            key_version: (i % 5 != 0).then_some(i as u32),
            outcome: if i % 7 == 0 {
                Outcome::Denied
            } else {
                Outcome::Success
            },
            records: (i % 3 == 0).then_some(i as u64 * 10),
            detail: format!("entry {i}"),
            request_id: (i % 2 == 1).then(|| format!("req-{i}")),
            event_id: (i % 3 == 1).then(|| format!("evt-{i}")),
        }
    }

    /// A valid chain of rows 1..=n.
    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let at = 1_000 + seq * 10;
                let entry = entry(seq);
                let hash = record_hash(seq, at, &entry, &prev);
                let record = AuditRecord {
                    seq,
                    at,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                record
            })
            .collect()
    }

    /// Recomputes the hash of every row from index `from` on, chaining each to the one before,
    /// as an attacker who knows the algorithm would.
    fn rehash_from(rows: &mut [AuditRecord], from: usize) {
        for i in from..rows.len() {
            if i > 0 {
                rows[i].prev_hash = rows[i - 1].hash.clone();
            }
            let r = &rows[i];
            rows[i].hash = record_hash(r.seq, r.at, &r.entry, &r.prev_hash);
        }
    }

    fn fault(rows: Vec<AuditRecord>) -> Option<ChainFault> {
        verify_chain(rows).first_fault
    }

    #[test]
    fn hash_is_lowercase_hex_sha256_and_pinned() {
        let e = AuditEntry::new("tok-1", "Rotate", Outcome::Success)
            .key("TOKEN_ENCRYPTION", Some(2))
            .records(42)
            .detail("rotated")
            .request_id("req-1");
        let h = record_hash(1, 1_700_000_000_000, &e, GENESIS_HASH);
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            h,
            record_hash(1, 1_700_000_000_000, &e.clone(), GENESIS_HASH)
        );
        // The encoding is part of the stored data: changing it invalidates every log. (Value
        // cross-checked with an independent implementation of the documented encoding.)
        assert_eq!(
            h,
            "6c0d076e67602828fcb77a46692a99e37ed687c47c372042b4ebd120e990776e"
        );
    }

    #[test]
    fn every_field_is_hashed() {
        let base = entry(1);
        let h = |seq, at, e: &AuditEntry, prev: &str| record_hash(seq, at, e, prev);
        let reference = h(1, 10, &base, GENESIS_HASH);
        let mut variants = vec![
            h(2, 10, &base, GENESIS_HASH),
            h(1, 11, &base, GENESIS_HASH),
            h(1, 10, &base, &"1".repeat(64)),
        ];
        let edits: Vec<fn(&mut AuditEntry)> = vec![
            |e| e.principal.push('x'),
            |e| e.operation.push('x'),
            |e| e.key_name = None,
            |e| e.key_name = Some("other".into()),
            |e| e.key_version = None,
            |e| e.key_version = Some(99),
            |e| e.outcome = Outcome::Failed,
            |e| e.records = Some(1),
            |e| e.detail.push('x'),
            |e| e.request_id = None,
            |e| e.event_id = None,
            |e| e.event_id = Some("evt-other".into()),
        ];
        for edit in edits {
            let mut e = base.clone();
            edit(&mut e);
            assert_ne!(e, base);
            variants.push(h(1, 10, &e, GENESIS_HASH));
        }
        for v in &variants {
            assert_ne!(v, &reference);
        }
    }

    #[test]
    fn an_event_id_extends_the_encoding_without_changing_rows_that_have_none() {
        let e = AuditEntry::new("tok-1", "Rotate", Outcome::Success)
            .key("TOKEN_ENCRYPTION", Some(2))
            .records(42)
            .detail("rotated")
            .request_id("req-1");
        // The pinned hash of a row written before the field existed.
        let old = "6c0d076e67602828fcb77a46692a99e37ed687c47c372042b4ebd120e990776e";
        assert_eq!(record_hash(1, 1_700_000_000_000, &e, GENESIS_HASH), old);
        let with_event = e.clone().event("evt-1");
        let hashed = record_hash(1, 1_700_000_000_000, &with_event, GENESIS_HASH);
        assert_ne!(hashed, old);
        let empty_event = e.event("");
        assert_ne!(
            record_hash(1, 1_700_000_000_000, &empty_event, GENESIS_HASH),
            old
        );
        assert_ne!(
            record_hash(1, 1_700_000_000_000, &empty_event, GENESIS_HASH),
            hashed
        );
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Moving bytes between adjacent fields changes the hash.
        let a = AuditEntry::new("ab", "c", Outcome::Success);
        let b = AuditEntry::new("a", "bc", Outcome::Success);
        assert_ne!(
            record_hash(1, 0, &a, GENESIS_HASH),
            record_hash(1, 0, &b, GENESIS_HASH)
        );
        // Absent and empty differ.
        let none = AuditEntry::new("p", "o", Outcome::Success);
        let empty = none.clone().request_id("");
        assert_ne!(
            record_hash(1, 0, &none, GENESIS_HASH),
            record_hash(1, 0, &empty, GENESIS_HASH)
        );
        let no_key = none.clone();
        let empty_key = none.clone().key("", None);
        assert_ne!(
            record_hash(1, 0, &no_key, GENESIS_HASH),
            record_hash(1, 0, &empty_key, GENESIS_HASH)
        );
        // A version number cannot pass for a record count.
        let mut version = none.clone();
        version.key_version = Some(5);
        let mut records = none.clone();
        records.records = Some(5);
        assert_ne!(
            record_hash(1, 0, &version, GENESIS_HASH),
            record_hash(1, 0, &records, GENESIS_HASH)
        );
    }

    #[test]
    fn intact_chain() {
        let rows = chain(10);
        let head = rows[9].hash.clone();
        let report = verify_chain(rows);
        assert_eq!(
            report,
            VerifyReport {
                rows: 10,
                first_fault: None,
                head_hash: head
            }
        );
        assert!(report.is_intact());
    }

    #[test]
    fn empty_chain() {
        let report = verify_chain(Vec::new());
        assert_eq!(report.rows, 0);
        assert_eq!(report.first_fault, None);
        assert_eq!(report.head_hash, GENESIS_HASH);
        assert_eq!(GENESIS_HASH.len(), 64);
    }

    #[test]
    fn genesis() {
        let rows = chain(1);
        assert_eq!(rows[0].prev_hash, GENESIS_HASH);
        assert_eq!(fault(rows.clone()), None);

        // A first row chained to something else, even with a recomputed hash.
        let mut bad = rows;
        bad[0].prev_hash = "f".repeat(64);
        rehash_from(&mut bad, 0);
        assert_eq!(fault(bad.clone()), Some(ChainFault::BadGenesis { seq: 1 }));
    }

    #[test]
    fn edited_row() {
        let mut rows = chain(10);
        rows[4].entry.detail = "nothing to see".into();
        assert_eq!(fault(rows), Some(ChainFault::Edited { seq: 5 }));

        let mut rows = chain(10);
        rows[4].at += 1;
        assert_eq!(fault(rows), Some(ChainFault::Edited { seq: 5 }));

        let mut rows = chain(10);
        rows[9].entry.outcome = Outcome::Success;
        rows[9].entry.principal = "someone else".into();
        assert_eq!(fault(rows), Some(ChainFault::Edited { seq: 10 }));

        // Only the hash column changed.
        let mut rows = chain(10);
        rows[2].hash = "a".repeat(64);
        assert_eq!(fault(rows), Some(ChainFault::Edited { seq: 3 }));
    }

    #[test]
    fn edited_and_rehashed_row_breaks_the_next_link() {
        let mut rows = chain(10);
        rows[4].entry.detail = "rewritten".into();
        let r = &rows[4];
        rows[4].hash = record_hash(r.seq, r.at, &r.entry, &r.prev_hash);
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 6 }));
    }

    #[test]
    fn deleted_rows() {
        let mut rows = chain(10);
        rows.remove(4);
        assert_eq!(
            fault(rows),
            Some(ChainFault::Deleted {
                after_seq: 4,
                missing_seq: 5
            })
        );

        let mut rows = chain(10);
        rows.drain(4..7);
        assert_eq!(
            fault(rows),
            Some(ChainFault::Deleted {
                after_seq: 4,
                missing_seq: 5
            })
        );

        let mut rows = chain(10);
        rows.remove(0);
        assert_eq!(
            fault(rows),
            Some(ChainFault::Deleted {
                after_seq: 0,
                missing_seq: 1
            })
        );
    }

    #[test]
    fn deleted_newest_rows_are_caught_by_the_head() {
        let rows = chain(10);
        let head = rows[9].hash.clone();
        let mut verifier = ChainVerifier::new();
        for row in rows.into_iter().take(8) {
            verifier.push(row);
        }
        assert_eq!(
            verifier.finish_at_head(10, &head).first_fault,
            Some(ChainFault::Deleted {
                after_seq: 8,
                missing_seq: 9
            })
        );

        // Everything deleted.
        assert_eq!(
            ChainVerifier::new().finish_at_head(10, &head).first_fault,
            Some(ChainFault::Deleted {
                after_seq: 0,
                missing_seq: 1
            })
        );
        // Nothing ever written.
        assert_eq!(
            ChainVerifier::new().finish_at_head(0, GENESIS_HASH),
            verify_chain(Vec::new())
        );
    }

    #[test]
    fn rewritten_newest_row_is_caught_by_the_head() {
        let mut rows = chain(10);
        let head = rows[9].hash.clone();
        rows[9].entry.detail = "rewritten".into();
        rehash_from(&mut rows, 9);
        let mut verifier = ChainVerifier::new();
        for row in rows.clone() {
            verifier.push(row);
        }
        assert_eq!(verifier.fault(), None);
        assert_eq!(
            verifier.finish_at_head(10, &head).first_fault,
            Some(ChainFault::Edited { seq: 10 })
        );

        let intact = chain(10);
        let head = intact[9].hash.clone();
        let mut verifier = ChainVerifier::new();
        intact.into_iter().for_each(|r| verifier.push(r));
        assert_eq!(verifier.finish_at_head(10, &head).first_fault, None);
    }

    #[test]
    fn swapped_rows_with_their_hashes() {
        // Rows 4 and 5 exchange everything but their seq (equivalently: their seqs swapped).
        let mut rows = chain(10);
        let (a, b) = (rows[3].clone(), rows[4].clone());
        rows[3] = AuditRecord { seq: 4, ..b };
        rows[4] = AuditRecord { seq: 5, ..a };
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 4 }));

        // Far apart.
        let mut rows = chain(30);
        let (a, b) = (rows[2].clone(), rows[26].clone());
        rows[2] = AuditRecord { seq: 3, ..b };
        rows[26] = AuditRecord { seq: 27, ..a };
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 3 }));
    }

    #[test]
    fn swapped_contents_keeping_the_chain_columns() {
        let mut rows = chain(10);
        let (a, b) = (rows[3].clone(), rows[4].clone());
        rows[3].at = b.at;
        rows[3].entry = b.entry;
        rows[4].at = a.at;
        rows[4].entry = a.entry;
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 4 }));

        // The last two rows.
        let mut rows = chain(10);
        let (a, b) = (rows[8].clone(), rows[9].clone());
        rows[8].at = b.at;
        rows[8].entry = b.entry;
        rows[9].at = a.at;
        rows[9].entry = a.entry;
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 9 }));
    }

    #[test]
    fn deleted_and_renumbered() {
        // Row 5 deleted and the later rows renumbered to close the gap.
        let mut rows = chain(10);
        rows.remove(4);
        for (i, row) in rows.iter_mut().enumerate() {
            row.seq = i as i64 + 1;
        }
        assert_eq!(fault(rows.clone()), Some(ChainFault::Reordered { seq: 5 }));

        // … and each renumbered row rehashed at its new position: the first of them still
        // chains to the deleted row.
        for row in &mut rows[4..] {
            row.hash = record_hash(row.seq, row.at, &row.entry, &row.prev_hash);
        }
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 5 }));
    }

    #[test]
    fn unreadable_rows() {
        let push_all = |rows: Vec<AuditRecord>, unreadable: i64| {
            let mut verifier = ChainVerifier::new();
            for row in rows {
                if row.seq == unreadable {
                    verifier.push_unreadable(row.seq, row.hash);
                } else {
                    verifier.push(row);
                }
            }
            verifier.finish()
        };
        let report = push_all(chain(6), 3);
        assert_eq!(report.first_fault, Some(ChainFault::Edited { seq: 3 }));
        assert_eq!(report.rows, 6);

        // An earlier fault wins.
        let mut rows = chain(6);
        rows[1].entry.detail = "x".into();
        assert_eq!(
            push_all(rows, 3).first_fault,
            Some(ChainFault::Edited { seq: 2 })
        );
        // A gap before it is reported as such.
        let mut rows = chain(6);
        rows.remove(1);
        assert_eq!(
            push_all(rows, 3).first_fault,
            Some(ChainFault::Deleted {
                after_seq: 1,
                missing_seq: 2
            })
        );
    }

    #[test]
    fn input_out_of_order_or_duplicated() {
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert_eq!(
            fault(rows),
            Some(ChainFault::Deleted {
                after_seq: 1,
                missing_seq: 2
            })
        );
        let mut rows = chain(5);
        let dup = rows[2].clone();
        rows.insert(3, dup);
        assert_eq!(fault(rows), Some(ChainFault::Reordered { seq: 3 }));
    }

    #[test]
    fn only_the_first_fault_is_reported_and_all_rows_counted() {
        let mut rows = chain(10);
        rows[2].entry.detail = "x".into();
        rows[6].entry.detail = "y".into();
        let head = rows[9].hash.clone();
        let report = verify_chain(rows);
        assert_eq!(report.first_fault, Some(ChainFault::Edited { seq: 3 }));
        assert_eq!(report.rows, 10);
        assert_eq!(report.head_hash, head);
    }

    #[test]
    fn faults_name_their_row() {
        let cases = [
            (ChainFault::Edited { seq: 5 }, "row 5 was edited"),
            (
                ChainFault::Deleted {
                    after_seq: 4,
                    missing_seq: 5,
                },
                "row 5 was deleted: no row 5 follows row 4",
            ),
            (
                ChainFault::Deleted {
                    after_seq: 0,
                    missing_seq: 1,
                },
                "row 1 was deleted",
            ),
            (ChainFault::Reordered { seq: 4 }, "row 4 is out of order"),
            (
                ChainFault::BadGenesis { seq: 1 },
                "row 1 is not a valid first row",
            ),
        ];
        for (fault, expected) in cases {
            let text = fault.to_string();
            assert!(text.contains(expected), "{text:?} lacks {expected:?}");
            assert!(text.contains(&fault.seq().to_string()));
        }
    }

    #[test]
    fn storable_replaces_nul() {
        let e = AuditEntry::new("cn=a\0b", "Op", Outcome::Failed)
            .key("k\0", None)
            .detail("d\0")
            .request_id("\0");
        let s = e.storable();
        assert!(!format!("{s:?}").contains('\0'));
        assert_eq!(s.principal, "cn=a\u{FFFD}b");
        assert_eq!(s.outcome, Outcome::Failed);
        let plain = AuditEntry::new("p", "o", Outcome::Success);
        assert_eq!(plain.storable(), plain);
    }

    #[test]
    fn outcome_spellings() {
        for o in [Outcome::Success, Outcome::Denied, Outcome::Failed] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::Denied.as_str(), "denied");
        assert_eq!(Outcome::parse("ok"), None);
    }
}
