//! What the batch rpcs (EncryptBatch, DecryptBatch, RewrapBatch) share: the limits of one
//! call, checked before any item runs, and each failed item's `ItemError`, which is exactly the
//! status the single rpc would have answered for that item (code, reason, message).

use tonic::{Code, Status};

use super::status::{status as status_with_reason, REASON_HEADER};
use crate::proto::{ErrorReason, ItemError};

/// How much one batch call may carry (`keystore.max_batch_items`, `keystore.max_batch_bytes`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: usize,
}

impl BatchLimits {
    /// Refuses a whole call that has no items or is over a limit: INVALID_ARGUMENT, or
    /// RESOURCE_EXHAUSTED naming the limit, before any item is processed.
    pub(super) fn check(&self, rpc: &str, items: usize, bytes: usize) -> Result<(), Status> {
        if items == 0 {
            return Err(status_with_reason(
                Code::InvalidArgument,
                ErrorReason::InvalidArgument,
                format!("{rpc} has no items; send at least one"),
            ));
        }
        if items > self.max_items {
            return Err(status_with_reason(
                Code::ResourceExhausted,
                ErrorReason::TooLarge,
                format!(
                    "{rpc} has {items} items, more than this server's limit of {} \
                     (keystore.max_batch_items); split it into several calls",
                    self.max_items
                ),
            ));
        }
        if bytes > self.max_bytes {
            return Err(status_with_reason(
                Code::ResourceExhausted,
                ErrorReason::TooLarge,
                format!(
                    "{rpc} carries {bytes} bytes of values and associated data, more than this \
                     server's limit of {} (keystore.max_batch_bytes); split it into several calls",
                    self.max_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// The error of one item: what the single rpc's status would have said.
pub(super) fn item_error(status: &Status) -> ItemError {
    let reason = status
        .metadata()
        .get(REASON_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(ErrorReason::from_str_name)
        .unwrap_or(ErrorReason::Unspecified);
    ItemError {
        code: status.code() as i32,
        reason: reason as i32,
        message: status.message().to_owned(),
    }
}

/// How many items of one call succeeded and failed, for `rekey_batch_items_total`.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) ok: u64,
    pub(super) failed: u64,
}

impl Tally {
    /// Counts one item's outcome and turns its error, if any, into its `ItemError`.
    pub(super) fn record<T>(&mut self, outcome: Result<T, Status>) -> Result<T, ItemError> {
        match outcome {
            Ok(value) => {
                self.ok += 1;
                Ok(value)
            }
            Err(status) => {
                self.failed += 1;
                Err(item_error(&status))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        max_items: 3,
        max_bytes: 100,
    };

    #[test]
    fn empty_and_oversized_calls_are_refused_whole() {
        let empty = LIMITS.check("EncryptBatch", 0, 0).unwrap_err();
        assert_eq!(empty.code(), Code::InvalidArgument);
        let many = LIMITS.check("DecryptBatch", 4, 10).unwrap_err();
        assert_eq!(many.code(), Code::ResourceExhausted);
        assert!(
            many.message().contains("keystore.max_batch_items"),
            "{}",
            many.message()
        );
        let big = LIMITS.check("RewrapBatch", 3, 101).unwrap_err();
        assert_eq!(big.code(), Code::ResourceExhausted);
        assert!(
            big.message().contains("keystore.max_batch_bytes"),
            "{}",
            big.message()
        );
        assert_eq!(item_error(&big).reason, ErrorReason::TooLarge as i32);
        LIMITS.check("EncryptBatch", 3, 100).unwrap();
    }

    #[test]
    fn an_item_error_keeps_the_status_code_reason_and_message() {
        let status = status_with_reason(Code::NotFound, ErrorReason::KeyNotFound, "no K".into());
        let mut tally = Tally::default();
        let err = tally.record::<()>(Err(status)).unwrap_err();
        assert_eq!(
            (err.code, err.reason, err.message.as_str()),
            (
                Code::NotFound as i32,
                ErrorReason::KeyNotFound as i32,
                "no K"
            )
        );
        tally.record(Ok(())).unwrap();
        assert_eq!((tally.ok, tally.failed), (1, 1));
        // A status without a reason (none of ours) still keeps its code.
        let bare = item_error(&Status::internal("x"));
        assert_eq!(bare.reason, ErrorReason::Unspecified as i32);
        assert_eq!(bare.code, Code::Internal as i32);
    }
}
